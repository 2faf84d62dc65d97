"""Who may do what through GraphQL: the gateway's side of tests/backend/test_permission_matrix.py.

Same callers on a private backend: the owner account's administrator (`admin`), users of the
owner account granted 7, 3 and 1 on the organization (`m7`, `m3`, `m1`) or nothing (`m0`), a
user of the account repository `priv` is shared with (`shared`), and a user of an unrelated
account (`stranger`). Repositories: `priv` (private, shared), `other` (private, not shared),
`pub` (public), each with tag `v1`; package `tools` (version 1.0.0); one official image.

Every cell asserts the exact outcome: the data, null, or the error's `extensions.code`.
Backend 404 is `NOT_FOUND` and 403 is `FORBIDDEN` (docs/gateway.md); `organization(...)` and
`repository(...)` answer null for what the caller cannot see. A refused mutation must leave the
state as it was, re-read after the call (Manage API as the owner's administrator, or SQL).
A failing cell is named `<operation>-<actor>`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.support import basic, oci_manifest, push_blob, sql, unique
from tests.conftest import BackendServer, start_backend, stop
from tests.gateway.conftest import Gateway, open_gateway

ACTORS = ("admin", "m7", "m3", "m1", "m0", "shared", "stranger")
FIXED_REPOS = ("priv", "other", "pub")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Err:
    """A refused field: the one error's `extensions.code`."""

    code: str


FORBIDDEN = Err("FORBIDDEN")
NOT_FOUND = Err("NOT_FOUND")
OK = "<ok>"  # a mutation succeeded with its exact expected value (checked by the operation)


@dataclass
class World:
    backend: BackendServer
    org: str
    owner: str
    shared_account: str
    stranger_account: str
    official: str
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A Manage API call as the owner account's administrator, whatever its status."""
        headers = {"X-Auth-Token": self.tokens["admin"]}
        return httpx.request(method, self.backend.url + path, headers=headers, timeout=30,
                             **kwargs)

    def as_admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response

    def grants(self) -> list[dict[str, object]]:
        return [{"user_id": self.user_ids[a], "auth": int(a[1])} for a in ("m7", "m3", "m1")]

    def fresh_org(self) -> str:
        org = unique("gmx")
        self.as_admin("POST", "/v2/manage/namespaces", json={"namespace": org})
        self.as_admin("POST", f"/v2/manage/namespaces/{org}/access", json=self.grants())
        return org

    def fresh_repo(self, *, public: bool = False, shared: bool = True) -> str:
        repo = unique("r")
        self.as_admin("POST", f"/v2/manage/namespaces/{self.org}/repos",
                      json={"repository": repo, "is_public": public})
        if shared:
            self.share(repo, self.shared_account)
        return repo

    def share(self, repo: str, account: str) -> None:
        self.as_admin("POST", f"/v2/manage/namespaces/{self.org}/repositories/{repo}"
                      "/access-domains",
                      json={"access_domain": account, "permit": "read", "deadline": "forever"})

    def repo(self, repo: str) -> httpx.Response:
        return self.request("GET", f"/v2/manage/namespaces/{self.org}/repos/{repo}")

    def share_of(self, repo: str, account: str) -> dict[str, Any]:
        """The share record (`exist` false when there is none)."""
        return dict(self.as_admin("GET", f"/v2/manage/namespaces/{self.org}/repositories/"
                                  f"{repo}/access-domains/{account}").json())

    def levels(self, org: str) -> dict[str, int]:
        """User name -> granted level on `org`, read by the owner's administrator."""
        body = self.as_admin("GET", f"/v2/manage/namespaces/{org}/access").json()
        return {a["user_name"]: a["auth"] for a in body["others_auths"]}

    def placeholders(self) -> dict[str, str]:
        return {self.org: "<org>", self.shared_account: "<shr>",
                self.stranger_account: "<str>", self.owner: "<own>",
                self.official: "<official>"}


def push_image(w: World, repo: str, tag: str) -> None:
    """A tiny OCI image (config and one layer) through the registry API, as the owner admin."""
    name, auth = f"{w.org}/{repo}", basic(w.tokens["admin"])
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    layer = f"layer of {repo}".encode() * 8
    body = oci_manifest((push_blob(w.backend, name, config, auth), len(config)),
                        [(push_blob(w.backend, name, layer, auth), len(layer))])
    put_manifest(w, name, tag, body)


def push_package(w: World, package: str, version: str) -> None:
    """A one-file package, shaped as oras pushes it (unknown config type, titled layer)."""
    name, auth = f"{w.org}/{package}", basic(w.tokens["admin"])
    content = b"read me\n"
    config_digest = push_blob(w.backend, name, b"{}", auth)
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.unknown.config.v1+json",
                   "digest": config_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": push_blob(w.backend, name, content, auth), "size": len(content),
                    "annotations": {TITLE: "readme.txt"}}],
    }
    put_manifest(w, name, version, json.dumps(document).encode())


def put_manifest(w: World, name: str, reference: str, body: bytes) -> None:
    response = httpx.put(f"{w.backend.url}/v2/{name}/manifests/{reference}", content=body,
                         headers={"Content-Type": OCI_MANIFEST},
                         auth=basic(w.tokens["admin"]), timeout=30)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, image_layout: Path) -> Iterator[World]:
    # A private server: the public repository would show to every account of the shared one.
    backend = start_backend(tmp_path_factory.mktemp("gql-matrix-data"))
    try:
        w = World(backend, unique("gmx"), unique("own"), unique("shr"), unique("str"),
                  unique("os"))
        members = {"admin": w.owner, "m7": w.owner, "m3": w.owner, "m1": w.owner,
                   "m0": w.owner, "spare": w.owner, "shared": w.shared_account,
                   "stranger": w.stranger_account}
        for account in (w.owner, w.shared_account, w.stranger_account):
            backend.admin("account", "create", account)
        for actor, account in members.items():
            extra = ["--admin"] if actor == "admin" else []
            w.user_ids[actor] = backend.admin("user", "create", account, actor, *extra)
            w.tokens[actor] = backend.admin("token", "create", account, actor)
        w.as_admin("POST", "/v2/manage/namespaces", json={"namespace": w.org})
        w.as_admin("POST", f"/v2/manage/namespaces/{w.org}/access", json=w.grants())
        for repo in FIXED_REPOS:
            w.as_admin("POST", f"/v2/manage/namespaces/{w.org}/repos",
                       json={"repository": repo, "is_public": repo == "pub"})
            push_image(w, repo, "v1")
        w.share("priv", w.shared_account)
        push_package(w, "tools", "1.0.0")
        backend.admin("official", "import", f"oci:{image_layout}:v1", f"{w.official}:v1")
        yield w
    finally:
        stop(backend.process)


@pytest.fixture(scope="module")
async def gw(world: World) -> AsyncIterator[Gateway]:
    async for gateway in open_gateway(world.backend.url, None):
        yield gateway


def norm(w: World, value: Any) -> Any:
    """The answer with the run's random names replaced by placeholders like `<org>`."""
    names = w.placeholders()
    if isinstance(value, dict):
        return {k: norm(w, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(norm(w, v) for v in value)
    if isinstance(value, str):
        return names.get(value, value)
    return value


async def ask(gw: Gateway, w: World, actor: str, query: str, **variables: Any) -> Any:
    """The one top-level field's value, or `Err(code)` when the answer carries an error."""
    body = await gw.post(query, variables, token=w.tokens[actor])
    if body.get("errors"):
        codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
        assert len(codes) == 1, body["errors"]
        return Err(str(codes[0]))
    data = body["data"]
    assert len(data) == 1, data
    return next(iter(data.values()))


def row(*outcomes: object) -> dict[str, object]:
    assert len(outcomes) == len(ACTORS)
    return dict(zip(ACTORS, outcomes, strict=True))


def members(*values: object, others: object) -> dict[str, object]:
    """admin, m7, m3, m1 get `values` (one, or one each); m0, shared, stranger get `others`."""
    each = values if len(values) == 4 else values * 4
    return row(*each, others, others, others)


# ---------------------------------------------------------------------------- queries

Query = Callable[[World, Gateway, str], Awaitable[Any]]

ORGS = "{ organizations(first: 1000) { nodes { name permission } } }"
ORG = "query ($n: String!) { organization(name: $n) { name permission } }"
ORG_REPOS = """query ($n: String!) { organization(name: $n) {
    repositories(first: 1000) { nodes { name } } } }"""
PERMISSIONS = """query ($n: String!) { organization(name: $n) {
    permissions { viewer { userName permission } others { userName permission } } } }"""
REPOS = """query ($n: String!) { repositories(filter: {namespace: $n}, first: 1000) {
    nodes { name } } }"""
REPO = """query ($n: String!, $r: String!) { repository(namespace: $n, name: $r) {
    name isPublic tags { nodes { name } } } }"""
SHARES = """query ($n: String!) { repository(namespace: $n, name: "priv") {
    shares { account permit deadline isValid } } }"""
SHARED = """query ($c: ShareCenter!, $n: String!) {
    sharedRepositories(center: $c, filter: {namespace: $n}) {
    nodes { ownerAccount repository { name } } } }"""
EXISTS = """query ($n: String!, $a: String!) {
    shareExists(namespace: $n, repository: "priv", account: $a) }"""
PACKAGES = """query ($n: String!) { packages(namespace: $n) {
    nodes { name permission versionCount } } }"""
PACKAGE = """query ($n: String!) { package(namespace: $n, name: "tools") {
    name versions { version fileCount } } }"""
NODE = """query ($id: ID!) { node(id: $id) { id
    ... on Organization { name permission }
    ... on Repository { name isPublic }
    ... on Tag { name repository { name } } } }"""
OFFICIAL_ONE = """query ($name: String!) { officialImage(namespace: "library", name: $name) {
    name versions { nodes { name } } } }"""
OFFICIAL = """query ($name: String!) { officialImages(filter: {name: $name}) {
    nodes { namespace name } } }"""


async def q_orgs(w: World, gw: Gateway, actor: str) -> Any:
    nodes = (await ask(gw, w, actor, ORGS))["nodes"]
    return norm(w, [n for n in nodes if n["name"] == w.org])


async def q_org(w: World, gw: Gateway, actor: str) -> Any:
    return norm(w, await ask(gw, w, actor, ORG, n=w.org))


async def q_org_repos(w: World, gw: Gateway, actor: str) -> Any:
    org = await ask(gw, w, actor, ORG_REPOS, n=w.org)
    if not isinstance(org, dict):
        return org
    return sorted(n["name"] for n in org["repositories"]["nodes"]
                  if n["name"] in (*FIXED_REPOS, "tools"))


async def q_permissions(w: World, gw: Gateway, actor: str) -> Any:
    org = await ask(gw, w, actor, PERMISSIONS, n=w.org)
    if not isinstance(org, dict):
        return org
    seen = org["permissions"]
    return {"viewer": seen["viewer"],
            "others": sorted((o["userName"], o["permission"]) for o in seen["others"])}


async def q_repos(w: World, gw: Gateway, actor: str) -> Any:
    nodes = (await ask(gw, w, actor, REPOS, n=w.org))["nodes"]
    return sorted(n["name"] for n in nodes if n["name"] in (*FIXED_REPOS, "tools"))


def q_repo(repo: str) -> Query:
    async def query(w: World, gw: Gateway, actor: str) -> Any:
        return await ask(gw, w, actor, REPO, n=w.org, r=repo)

    return query


REPO_WITH_ORG = """query($n: String!) {
  repository(namespace: $n, name: "pub") { name organization { name } }
}"""


async def q_public_repo_org(w: World, gw: Gateway, actor: str) -> Any:
    seen = await ask(gw, w, actor, REPO_WITH_ORG, n=w.org)
    if isinstance(seen, Err):
        return seen
    org = seen["organization"]
    return "hidden" if org is None else "ORG" if org["name"] == w.org else org["name"]


async def q_shares(w: World, gw: Gateway, actor: str) -> Any:
    return norm(w, await ask(gw, w, actor, SHARES, n=w.org))


def q_shared(center: str) -> Query:
    async def query(w: World, gw: Gateway, actor: str) -> Any:
        nodes = (await ask(gw, w, actor, SHARED, c=center, n=w.org))["nodes"]
        return norm(w, sorted((n["ownerAccount"], n["repository"]["name"]) for n in nodes))

    return query


def q_exists(account: str) -> Query:
    async def query(w: World, gw: Gateway, actor: str) -> Any:
        name = {"shared": w.shared_account, "stranger": w.stranger_account}[account]
        return await ask(gw, w, actor, EXISTS, n=w.org, a=name)

    return query


async def q_exists_other(w: World, gw: Gateway, actor: str) -> Any:
    query = EXISTS.replace('"priv"', '"other"')
    return await ask(gw, w, actor, query, n=w.org, a=w.shared_account)


async def q_packages(w: World, gw: Gateway, actor: str) -> Any:
    return (await ask(gw, w, actor, PACKAGES, n=w.org))["nodes"]


async def q_package(w: World, gw: Gateway, actor: str) -> Any:
    return await ask(gw, w, actor, PACKAGE, n=w.org)


async def q_official(w: World, gw: Gateway, actor: str) -> Any:
    return norm(w, (await ask(gw, w, actor, OFFICIAL, name=w.official))["nodes"])


def gid(key: str) -> str:
    return base64.b64encode(key.encode()).decode()


def q_node(kind: str, key: str) -> Query:
    """`node(id:)` for `<kind>:<key>`, `{org}` in `key` standing for the organization."""

    async def query(w: World, gw: Gateway, actor: str) -> Any:
        found = await ask(gw, w, actor, NODE, id=gid(f"{kind}:{key.format(org=w.org)}"))
        if isinstance(found, dict):
            assert base64.b64decode(found.pop("id")).decode() == f"{kind}:{key.format(org=w.org)}"
        return norm(w, found)

    return query


async def q_official_one(w: World, gw: Gateway, actor: str) -> Any:
    return norm(w, await ask(gw, w, actor, OFFICIAL_ONE, name=w.official))


def org_as(level: str) -> dict[str, str]:
    return {"name": "<org>", "permission": level}


LEVELS = ("MANAGE", "MANAGE", "EDIT", "READ")
ALL_FIXED = ["other", "priv", "pub"]
# The account administrator holds 7 without a grant, and is listed among the others.
GRANTED = [("admin", "MANAGE"), ("m1", "READ"), ("m3", "EDIT"), ("m7", "MANAGE")]


def repo_seen(name: str, public: bool = False) -> dict[str, object]:
    return {"name": name, "isPublic": public, "tags": {"nodes": [{"name": "v1"}]}}


def permissions_seen(actor: str, level: str) -> dict[str, object]:
    return {"viewer": {"userName": actor, "permission": level},
            "others": [g for g in GRANTED if g[0] != actor]}


READERS = ("admin", "m7", "m3", "m1", "shared")
MEMBERS = ("admin", "m7", "m3", "m1")
SHARE_SEEN = [{"account": "<shr>", "permit": "READ", "deadline": "forever", "isValid": True}]

QUERY_MATRIX: list[tuple[str, Query, dict[str, object]]] = [
    ("organizations", q_orgs, members(*([org_as(v)] for v in LEVELS), others=[])),
    ("organization", q_org, members(*(org_as(v) for v in LEVELS), others=None)),
    ("organization-repositories", q_org_repos, members(ALL_FIXED, others=None)),
    ("organization-permissions", q_permissions,
     members(*(permissions_seen(a, v) for a, v in zip(MEMBERS, LEVELS, strict=True)),
             others=None)),
    ("repositories", q_repos, members(ALL_FIXED, others=[])),
    ("repository-shared", q_repo("priv"),
     {a: repo_seen("priv") if a in READERS else None for a in ACTORS}),
    ("repository-unshared", q_repo("other"),
     {a: repo_seen("other") if a in MEMBERS else None for a in ACTORS}),
    ("repository-public", q_repo("pub"), {a: repo_seen("pub", True) for a in ACTORS}),
    # outsiders read a public repository; its organization edge is null for them, not an error
    ("repository-public-organization", q_public_repo_org,
     {a: "ORG" if a in MEMBERS else "hidden" for a in ACTORS}),
    ("repository-missing", q_repo("nosuch"), {a: None for a in ACTORS}),
    ("repository-shares", q_shares,
     row(*[{"shares": SHARE_SEEN}] * 4, None, FORBIDDEN, None)),
    ("shared-self", q_shared("SELF"), members([("<own>", "priv")], others=[])),
    ("shared-thirdparty", q_shared("THIRDPARTY"),
     row([], [], [], [], [], [("<own>", "priv")], [])),
    ("share-exists", q_exists("shared"),
     row(True, True, True, True, NOT_FOUND, FORBIDDEN, NOT_FOUND)),
    ("share-exists-unshared", q_exists_other,
     row(False, False, False, False, NOT_FOUND, NOT_FOUND, NOT_FOUND)),
    ("share-exists-absent", q_exists("stranger"),
     row(False, False, False, False, NOT_FOUND, FORBIDDEN, NOT_FOUND)),
    ("packages", q_packages,
     members(*([{"name": "tools", "permission": v, "versionCount": 1}] for v in LEVELS),
             others=[])),
    ("package", q_package,
     members({"name": "tools", "versions": [{"version": "1.0.0", "fileCount": 1}]},
             others=None)),
    ("node-organization", q_node("Organization", "{org}"),
     members(*(org_as(v) for v in LEVELS), others=None)),
    ("node-repository-shared", q_node("Repository", "{org}/priv"),
     {a: {"name": "priv", "isPublic": False} if a in READERS else None for a in ACTORS}),
    ("node-repository-unshared", q_node("Repository", "{org}/other"),
     {a: {"name": "other", "isPublic": False} if a in MEMBERS else None for a in ACTORS}),
    ("node-tag-shared", q_node("Tag", "{org}/priv:v1"),
     {a: {"name": "v1", "repository": {"name": "priv"}} if a in READERS else None
      for a in ACTORS}),
    ("node-tag-unshared", q_node("Tag", "{org}/other:v1"),
     {a: {"name": "v1", "repository": {"name": "other"}} if a in MEMBERS else None
      for a in ACTORS}),
    ("official-image", q_official_one,
     {a: {"name": "<official>", "versions": {"nodes": [{"name": "v1"}]}} for a in ACTORS}),
    ("official-images", q_official,
     {a: [{"namespace": "library", "name": "<official>"}] for a in ACTORS}),
]

# Cells where the gateway contradicts the backend matrix or docs: `<op>-<actor>` -> reason.
QUERY_DEFECTS: dict[str, str] = {}


def cell(name: str, actor: str, defects: dict[str, str], *values: object) -> Any:
    cell_id = f"{name}-{actor}"
    marks = ([pytest.mark.xfail(strict=True, reason=defects[cell_id])]
             if cell_id in defects else [])
    return pytest.param(*values, id=cell_id, marks=marks)


@pytest.mark.parametrize(
    ("query", "actor", "expected"),
    [cell(name, actor, QUERY_DEFECTS, query, actor, table[actor])
     for name, query, table in QUERY_MATRIX for actor in ACTORS],
)
async def test_query_cell(
    world: World, gw: Gateway, query: Query, actor: str, expected: object
) -> None:
    assert await query(world, gw, actor) == expected


# ---------------------------------------------------------------------------- mutations


@dataclass
class Seen:
    """What a mutation answered, what it should answer on success, and whether the state
    re-read afterwards shows its effect."""

    answer: Any
    success: Any
    changed: bool


Mutation = Callable[[World, Gateway, str], Awaitable[Seen]]


def decoded(answer: Any) -> Any:
    """A returned global id as `Type:key`; anything else unchanged."""
    if isinstance(answer, str):
        return base64.b64decode(answer).decode()
    return answer


async def m_org_create(w: World, gw: Gateway, actor: str) -> Seen:
    name = unique("gmc")
    answer = await ask(gw, w, actor, """mutation ($n: String!) {
        createOrganization(input: {name: $n}) { name } }""", n=name)
    exists = bool(sql(w.backend, "SELECT 1 FROM namespaces WHERE name = ?", (name,)))
    return Seen(answer, {"name": name}, exists)


async def m_org_delete(w: World, gw: Gateway, actor: str) -> Seen:
    org = w.fresh_org()
    answer = await ask(gw, w, actor, "mutation ($n: String!) { deleteOrganization(name: $n) }",
                       n=org)
    gone = w.request("GET", f"/v2/manage/namespaces/{org}").status_code == 404
    return Seen(decoded(answer), f"Organization:{org}", gone)


async def m_repo_create(w: World, gw: Gateway, actor: str) -> Seen:
    repo = unique("c")
    answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!) {
        createRepository(input: {namespace: $n, name: $r}) { name isPublic } }""",
                       n=w.org, r=repo)
    return Seen(answer, {"name": repo, "isPublic": False}, w.repo(repo).status_code == 200)


def m_repo_update(public: bool, shared: bool = True) -> Mutation:
    async def mutation(w: World, gw: Gateway, actor: str) -> Seen:
        repo, text = w.fresh_repo(public=public, shared=shared), unique("about")
        answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!, $d: String!) {
            updateRepository(input: {namespace: $n, name: $r, description: $d}) {
            name isPublic description } }""", n=w.org, r=repo, d=text)
        after = w.repo(repo).json()
        success = {"name": repo, "isPublic": public, "description": text}
        return Seen(answer, success, after["description"] == text)

    return mutation


def m_visibility(public: bool) -> Mutation:
    """Flip a fresh repository (private and shared, or public) to the other visibility."""

    async def mutation(w: World, gw: Gateway, actor: str) -> Seen:
        repo = w.fresh_repo(public=public)
        answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!, $p: Boolean!) {
            setRepositoryVisibility(namespace: $n, name: $r, isPublic: $p) { name isPublic }
            }""", n=w.org, r=repo, p=not public)
        after = w.repo(repo).json()
        return Seen(answer, {"name": repo, "isPublic": not public},
                    after["is_public"] is not public)

    return mutation


def m_repo_delete(public: bool) -> Mutation:
    async def mutation(w: World, gw: Gateway, actor: str) -> Seen:
        return await repo_delete(w, gw, actor, w.fresh_repo(public=public))

    return mutation


async def repo_delete(w: World, gw: Gateway, actor: str, repo: str) -> Seen:
    answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!) {
        deleteRepository(namespace: $n, name: $r) }""", n=w.org, r=repo)
    return Seen(decoded(answer), f"Repository:{w.org}/{repo}", w.repo(repo).status_code == 404)


def m_tag_delete(repo: str) -> Mutation:
    """Delete a fresh copy of `v1` in one of the fixed repositories."""

    async def mutation(w: World, gw: Gateway, actor: str) -> Seen:
        tag, tags = unique("del"), f"/v2/manage/namespaces/{w.org}/repos/{repo}/tags"
        w.as_admin("POST", tags,
                   json={"source_tag": "v1", "destination_tag": tag, "override": False})
        answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!, $t: String!) {
            deleteTag(namespace: $n, repository: $r, tag: $t) }""", n=w.org, r=repo, t=tag)
        gone = w.request("GET", f"{tags}/{tag}").status_code == 404
        return Seen(decoded(answer), f"Tag:{w.org}/{repo}:{tag}", gone)

    return mutation


async def m_share_create(w: World, gw: Gateway, actor: str) -> Seen:
    repo = w.fresh_repo()
    answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!, $a: String!) {
        createShare(input: {namespace: $n, repository: $r, account: $a}) {
        account permit deadline repositoryName } }""",
                       n=w.org, r=repo, a=w.stranger_account)
    success = {"account": w.stranger_account, "permit": "READ", "deadline": "forever",
               "repositoryName": repo}
    return Seen(answer, success, w.share_of(repo, w.stranger_account)["exist"])


async def m_share_update(w: World, gw: Gateway, actor: str) -> Seen:
    repo, text = w.fresh_repo(), unique("why")
    answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!, $a: String!,
        $d: String!) { updateShare(input: {namespace: $n, repository: $r, account: $a,
        description: $d}) { account deadline description } }""",
                       n=w.org, r=repo, a=w.shared_account, d=text)
    after = w.share_of(repo, w.shared_account)
    success = {"account": w.shared_account, "deadline": "forever", "description": text}
    return Seen(answer, success, after["description"] == text)


async def m_share_delete(w: World, gw: Gateway, actor: str) -> Seen:
    repo = w.fresh_repo()
    answer = await ask(gw, w, actor, """mutation ($n: String!, $r: String!, $a: String!) {
        deleteShare(namespace: $n, repository: $r, account: $a) }""",
                       n=w.org, r=repo, a=w.shared_account)
    gone = not w.share_of(repo, w.shared_account)["exist"]
    return Seen(decoded(answer), f"RepositoryShare:{w.org}/{repo}@{w.shared_account}", gone)


PERMISSION_ANSWER = "{ name permissions { others { userName permission } } }"


def others_after(org: str, actor: str, levels: dict[str, int]) -> dict[str, object]:
    """The organization as the caller sees it: everyone's level but the caller's own."""
    names = {1: "READ", 3: "EDIT", 7: "MANAGE"}
    everyone = {"admin": 7, **levels}
    return {"name": org, "permissions": {"others": [
        {"userName": user, "permission": names[level]}
        for user, level in sorted(everyone.items()) if user != actor
    ]}}


def sorted_others(answer: Any) -> Any:
    if isinstance(answer, dict):
        answer["permissions"]["others"].sort(key=lambda o: o["userName"])
    return answer


async def m_perm_grant(w: World, gw: Gateway, actor: str) -> Seen:
    org = w.fresh_org()
    answer = await ask(gw, w, actor, """mutation ($n: String!) {
        grantOrganizationPermission(input: {namespace: $n, userName: "spare",
        permission: READ}) ANSWER }""".replace("ANSWER", PERMISSION_ANSWER), n=org)
    levels = w.levels(org)
    success = others_after(org, actor, {"m1": 1, "m3": 3, "m7": 7, "spare": 1})
    return Seen(sorted_others(answer), success, levels.get("spare") == 1)


async def m_perm_update(w: World, gw: Gateway, actor: str) -> Seen:
    org = w.fresh_org()
    answer = await ask(gw, w, actor, """mutation ($n: String!) {
        updateOrganizationPermission(input: {namespace: $n, userName: "m1",
        permission: EDIT}) ANSWER }""".replace("ANSWER", PERMISSION_ANSWER), n=org)
    levels = w.levels(org)
    return Seen(sorted_others(answer), others_after(org, actor, {"m1": 3, "m3": 3, "m7": 7}),
                levels.get("m1") == 3)


async def m_perm_revoke(w: World, gw: Gateway, actor: str) -> Seen:
    org = w.fresh_org()
    answer = await ask(gw, w, actor, """mutation ($n: String!) {
        revokeOrganizationPermission(input: {namespace: $n, userName: "m1"}) ANSWER }"""
                       .replace("ANSWER", PERMISSION_ANSWER), n=org)
    levels = w.levels(org)
    return Seen(sorted_others(answer), others_after(org, actor, {"m3": 3, "m7": 7}),
                "m1" not in levels)


EDITORS = row(OK, OK, OK, FORBIDDEN, NOT_FOUND, FORBIDDEN, NOT_FOUND)
ON_PUBLIC = row(OK, OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN)
MANAGERS = row(OK, OK, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, NOT_FOUND)
ORG_MANAGERS = row(OK, OK, FORBIDDEN, FORBIDDEN, NOT_FOUND, NOT_FOUND, NOT_FOUND)

MUTATION_MATRIX: list[tuple[str, Mutation, dict[str, object]]] = [
    ("createOrganization", m_org_create, row(*[OK] * 7)),
    ("deleteOrganization", m_org_delete, ORG_MANAGERS),
    ("createRepository", m_repo_create,
     row(OK, OK, OK, FORBIDDEN, NOT_FOUND, NOT_FOUND, NOT_FOUND)),
    ("updateRepository-shared", m_repo_update(False), EDITORS),
    ("updateRepository-public", m_repo_update(True), ON_PUBLIC),
    # docs/accounts.md: the shared account touching another repository of the organization
    ("updateRepository-unshared", m_repo_update(False, shared=False),
     row(OK, OK, OK, FORBIDDEN, NOT_FOUND, NOT_FOUND, NOT_FOUND)),
    ("setRepositoryVisibility-shared", m_visibility(False), EDITORS),
    ("setRepositoryVisibility-public", m_visibility(True), ON_PUBLIC),
    ("deleteRepository-shared", m_repo_delete(False), EDITORS),
    ("deleteRepository-public", m_repo_delete(True), ON_PUBLIC),
    ("deleteTag-shared", m_tag_delete("priv"), EDITORS),
    ("deleteTag-public", m_tag_delete("pub"), ON_PUBLIC),
    ("createShare", m_share_create, MANAGERS),
    ("updateShare", m_share_update, MANAGERS),
    ("deleteShare", m_share_delete, MANAGERS),
    ("grantOrganizationPermission", m_perm_grant, ORG_MANAGERS),
    ("updateOrganizationPermission", m_perm_update, ORG_MANAGERS),
    ("revokeOrganizationPermission", m_perm_revoke, ORG_MANAGERS),
]

MUTATION_DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize(
    ("mutation", "actor", "expected"),
    [cell(name, actor, MUTATION_DEFECTS, mutation, actor, table[actor])
     for name, mutation, table in MUTATION_MATRIX for actor in ACTORS],
)
async def test_mutation_cell(
    world: World, gw: Gateway, mutation: Mutation, actor: str, expected: object
) -> None:
    seen = await mutation(world, gw, actor)
    if expected == OK:
        assert (seen.answer, seen.changed) == (seen.success, True)
    else:
        assert (seen.answer, seen.changed) == (expected, False)
