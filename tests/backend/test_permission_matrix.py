"""Who may do what: every Manage API operation and registry action, for each kind of caller.

Actors: the owner account's administrator (`admin`), users of the same account granted 7, 3 and
1 on the organization (`m7`, `m3`, `m1`) or nothing (`m0`), a user of an account the repository
`priv` is shared with (`shared`), and a user of an unrelated account (`stranger`). Each cell
asserts the exact outcome; a failing cell is named `<operation>-<actor>`.

Invisible things answer 404 with the organization-not-found code whatever exists behind them;
visible things the caller may not change answer 403.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.backend.support import make_image, unique
from tests.conftest import BackendServer, start_backend, stop

ACTORS = ("admin", "m7", "m3", "m1", "m0", "shared", "stranger")
NS_NOT_FOUND = (404, "SVCSTG.SWR.4040058")
FORBIDDEN = (403, "SVCSTG.SWR.4030170")
Outcome = tuple[int, str | None]


@dataclass
class World:
    backend: BackendServer
    skopeo: str
    layout: Path
    org: str
    owner: str
    shared_account: str
    stranger_account: str
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)

    def client(self, actor: str) -> httpx.Client:
        return httpx.Client(base_url=self.backend.url, timeout=30,
                            headers={"X-Auth-Token": self.tokens[actor]})

    def as_admin(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        with self.client("admin") as client:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code < 300, response.text
        return response

    def grants(self) -> list[dict[str, object]]:
        return [{"user_id": self.user_ids[a], "auth": int(a[1])} for a in ("m7", "m3", "m1")]

    def fresh_org(self) -> str:
        org = unique("mxf")
        self.as_admin("POST", "/v2/manage/namespaces", json={"namespace": org})
        self.as_admin("POST", f"/v2/manage/namespaces/{org}/access", json=self.grants())
        return org

    def fresh_repo(self, *, shared: bool = True) -> str:
        repo = unique("r")
        self.as_admin("POST", f"/v2/manage/namespaces/{self.org}/repos",
                      json={"repository": repo, "is_public": False})
        if shared:
            self.share(repo, self.shared_account)
        return repo

    def share(self, repo: str, account: str) -> None:
        self.as_admin("POST", f"{REPOSITORIES}/{repo}/access-domains".format(org=self.org),
                      json={"access_domain": account, "permit": "read", "deadline": "forever"})

    def skopeo_run(self, actor: str, *args: str) -> subprocess.CompletedProcess[str]:
        creds = f"user:{self.tokens[actor]}"
        return subprocess.run(
            [self.skopeo, *args[:1], *creds_flags(args[0], creds), *args[1:]],
            capture_output=True, text=True, timeout=120,
        )

    def push(self, actor: str, target: str) -> subprocess.CompletedProcess[str]:
        return self.skopeo_run(actor, "copy", f"oci:{self.layout}:v1",
                               f"docker://{self.backend.host}/{target}")


def creds_flags(command: str, creds: str) -> list[str]:
    if command == "copy":
        return ["--dest-creds", creds, "--dest-tls-verify=false"]
    return ["--creds", creds, "--tls-verify=false"]


REPOS = "/v2/manage/namespaces/{org}/repos"
REPOSITORIES = "/v2/manage/namespaces/{org}/repositories"


@pytest.fixture(scope="module")
def world(
    skopeo: str, make_test_image: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    # A private server: the public repository made here would show in every account's catalog
    # on the shared one.
    backend = start_backend(tmp_path_factory.mktemp("matrix-data"))
    try:
        yield from _populate(backend, skopeo, make_test_image, tmp_path_factory)
    finally:
        stop(backend.process)


def _populate(
    backend: BackendServer, skopeo: str, make_test_image: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    layout = tmp_path_factory.mktemp("matrix") / "layout"
    make_image(make_test_image, layout, "v1")
    w = World(backend, skopeo, layout, unique("mx"), unique("own"), unique("shr"), unique("str"))
    members = {"admin": w.owner, "m7": w.owner, "m3": w.owner, "m1": w.owner, "m0": w.owner,
               "spare": w.owner, "shared": w.shared_account, "stranger": w.stranger_account}
    for account in {w.owner, w.shared_account, w.stranger_account}:
        backend.admin("account", "create", account)
    for actor, account in members.items():
        extra = ["--admin"] if actor == "admin" else []
        w.user_ids[actor] = backend.admin("user", "create", account, actor, *extra)
        w.tokens[actor] = backend.admin("token", "create", account, actor)

    w.as_admin("POST", "/v2/manage/namespaces", json={"namespace": w.org})
    w.as_admin("POST", f"/v2/manage/namespaces/{w.org}/access", json=w.grants())
    for repo, public in (("priv", False), ("other", False), ("pub", True)):
        w.as_admin("POST", REPOS.format(org=w.org), json={"repository": repo, "is_public": public})
        result = w.push("admin", f"{w.org}/{repo}:v1")
        assert result.returncode == 0, result.stderr
    w.share("priv", w.shared_account)
    yield w


def cells(expected: dict[str, Outcome | bool | str]) -> list[object]:
    return [pytest.param(actor, expected[actor], id=actor) for actor in ACTORS]


def row(*outcomes: Outcome | bool | str) -> dict[str, Outcome | bool | str]:
    assert len(outcomes) == len(ACTORS)
    return dict(zip(ACTORS, outcomes, strict=True))


def ok(status: int) -> Outcome:
    return (status, None)


def assert_outcome(response: httpx.Response, expected: Outcome) -> None:
    status, code = expected
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error_code"] == code


# ---------------------------------------------------------------------------- Manage API

Operation = Callable[[World, httpx.Client, str], httpx.Response]


def ns_show(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.get(f"/v2/manage/namespaces/{w.org}")


def ns_create(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.post("/v2/manage/namespaces", json={"namespace": unique("mxn")})


def ns_delete(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.delete(f"/v2/manage/namespaces/{w.fresh_org()}")


def repo_create(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.post(REPOS.format(org=w.org), json={"repository": unique("c"), "is_public": False})


def repo_show(repo: str) -> Operation:
    return lambda w, c, actor: c.get(f"{REPOS.format(org=w.org)}/{repo}")


def repo_update(repo: str) -> Operation:
    public = repo == "pub"
    return lambda w, c, actor: c.patch(f"{REPOS.format(org=w.org)}/{repo}",
                                       json={"is_public": public})


def repo_delete(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.delete(f"{REPOS.format(org=w.org)}/{w.fresh_repo()}")


def tags_list(repo: str) -> Operation:
    return lambda w, c, actor: c.get(f"{REPOS.format(org=w.org)}/{repo}/tags")


def tag_show(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.get(f"{REPOS.format(org=w.org)}/priv/tags/v1")


def tag_copy(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.post(f"{REPOS.format(org=w.org)}/priv/tags",
                  json={"source_tag": "v1", "destination_tag": unique("cp"), "override": False})


def tag_delete(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    tag = unique("del")
    w.as_admin("POST", f"{REPOS.format(org=w.org)}/priv/tags",
               json={"source_tag": "v1", "destination_tag": tag, "override": False})
    return c.delete(f"{REPOS.format(org=w.org)}/priv/tags/{tag}")


def share_list(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.get(f"{REPOSITORIES.format(org=w.org)}/priv/access-domains")


def share_show(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.get(f"{REPOSITORIES.format(org=w.org)}/priv/access-domains/{w.shared_account}")


def share_create(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.post(f"{REPOSITORIES.format(org=w.org)}/{w.fresh_repo()}/access-domains",
                  json={"access_domain": w.stranger_account, "permit": "read",
                        "deadline": "forever"})


def share_update(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.patch(f"{REPOSITORIES.format(org=w.org)}/priv/access-domains/{w.shared_account}",
                   json={"permit": "read", "deadline": "forever"})


def share_delete(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.delete(
        f"{REPOSITORIES.format(org=w.org)}/{w.fresh_repo()}/access-domains/{w.shared_account}"
    )


def perm_show(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.get(f"/v2/manage/namespaces/{w.org}/access")


def perm_create(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.post(f"/v2/manage/namespaces/{w.fresh_org()}/access",
                  json=[{"user_id": w.user_ids["spare"], "auth": 1}])


def perm_update(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.patch(f"/v2/manage/namespaces/{w.fresh_org()}/access",
                   json=[{"user_id": w.user_ids["m1"], "auth": 3}])


def perm_delete(w: World, c: httpx.Client, actor: str) -> httpx.Response:
    return c.request("DELETE", f"/v2/manage/namespaces/{w.fresh_org()}/access",
                     json=[w.user_ids["m1"]])


READERS = row(ok(200), ok(200), ok(200), ok(200), NS_NOT_FOUND, ok(200), NS_NOT_FOUND)
MEMBERS = row(ok(200), ok(200), ok(200), ok(200), NS_NOT_FOUND, NS_NOT_FOUND, NS_NOT_FOUND)
SHARE_READERS = row(ok(200), ok(200), ok(200), ok(200), NS_NOT_FOUND, FORBIDDEN, NS_NOT_FOUND)


def editors(status: int) -> dict[str, Outcome | bool | str]:
    return row(ok(status), ok(status), ok(status), FORBIDDEN, NS_NOT_FOUND, FORBIDDEN,
               NS_NOT_FOUND)


def managers(status: int, shared: Outcome = FORBIDDEN) -> dict[str, Outcome | bool | str]:
    return row(ok(status), ok(status), FORBIDDEN, FORBIDDEN, NS_NOT_FOUND, shared, NS_NOT_FOUND)


MANAGE_MATRIX: list[tuple[str, Operation, dict[str, Outcome | bool | str]]] = [
    ("ns-show", ns_show, MEMBERS),
    ("ns-create", ns_create, row(*[ok(201)] * 7)),
    ("ns-delete", ns_delete, managers(204, NS_NOT_FOUND)),
    ("repo-create", repo_create,
     row(ok(200), ok(200), ok(200), FORBIDDEN, NS_NOT_FOUND, NS_NOT_FOUND, NS_NOT_FOUND)),
    ("repo-show-shared", repo_show("priv"), READERS),
    ("repo-show-unshared", repo_show("other"), MEMBERS),
    ("repo-show-public", repo_show("pub"), row(*[ok(200)] * 7)),
    ("repo-update-shared", repo_update("priv"), editors(201)),
    ("repo-update-public", repo_update("pub"),
     row(ok(201), ok(201), ok(201), FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("repo-delete", repo_delete, editors(204)),
    ("tags-list-shared", tags_list("priv"), READERS),
    ("tags-list-unshared", tags_list("other"), MEMBERS),
    ("tag-show", tag_show, READERS),
    ("tag-copy", tag_copy, editors(201)),
    ("tag-delete", tag_delete, editors(204)),
    ("share-list", share_list, SHARE_READERS),
    ("share-show", share_show, SHARE_READERS),
    ("share-create", share_create, managers(201)),
    ("share-update", share_update, managers(201)),
    ("share-delete", share_delete, managers(204)),
    ("perm-show", perm_show, MEMBERS),
    ("perm-create", perm_create, managers(201, NS_NOT_FOUND)),
    ("perm-update", perm_update, managers(201, NS_NOT_FOUND)),
    ("perm-delete", perm_delete, managers(204, NS_NOT_FOUND)),
]


@pytest.mark.parametrize(
    ("operation", "actor", "expected"),
    [
        pytest.param(op, actor, table[actor], id=f"{name}-{actor}")
        for name, op, table in MANAGE_MATRIX for actor in ACTORS
    ],
)
def test_manage_cell(world: World, operation: Operation, actor: str, expected: Outcome) -> None:
    with world.client(actor) as client:
        assert_outcome(operation(world, client, actor), expected)


# ---------------------------------------------------------------------------- listings


def listed_namespaces(w: World, c: httpx.Client) -> set[str]:
    return {n["name"] for n in c.get("/v2/manage/namespaces").json()["namespaces"]}


def listed_repos(w: World, c: httpx.Client) -> set[str]:
    rows = c.get("/v2/manage/repos", params={"namespace": w.org}).json()
    return {r["name"] for r in rows}


def shared_center(center: str) -> Callable[[World, httpx.Client], set[str]]:
    def listed(w: World, c: httpx.Client) -> set[str]:
        rows = c.get("/v2/manage/shared-repositories",
                     params={"center": center, "namespace": w.org}).json()
        return {r["name"] for r in rows}

    return listed


MEMBER_SET: set[str] = {"priv", "other", "pub"}
LIST_MATRIX: list[tuple[str, Callable[[World, httpx.Client], set[str]], dict[str, object]]] = [
    ("ns-list", lambda w, c: listed_namespaces(w, c) & {w.org},
     {"admin": "org", "m7": "org", "m3": "org", "m1": "org", "m0": "", "shared": "",
      "stranger": ""}),
    ("repos-list", listed_repos,
     {"admin": MEMBER_SET, "m7": MEMBER_SET, "m3": MEMBER_SET, "m1": MEMBER_SET,
      "m0": set(), "shared": set(), "stranger": set()}),
    ("shared-thirdparty", shared_center("thirdparty"),
     {"admin": set(), "m7": set(), "m3": set(), "m1": set(), "m0": set(),
      "shared": {"priv"}, "stranger": set()}),
]


@pytest.mark.parametrize(
    ("listing", "actor", "expected"),
    [
        pytest.param(fn, actor, table[actor], id=f"{name}-{actor}")
        for name, fn, table in LIST_MATRIX for actor in ACTORS
    ],
)
def test_listing_cell(
    world: World, listing: Callable[[World, httpx.Client], set[str]], actor: str, expected: object
) -> None:
    with world.client(actor) as client:
        seen = listing(world, client)
    if expected in ("org", ""):
        expected = {world.org} if expected == "org" else set()
    # Repositories created by other cells may be listed too; only the fixed three are checked.
    assert seen & ({world.org} | MEMBER_SET) == expected


@pytest.mark.parametrize("actor", ACTORS)
def test_shared_self_lists_priv_for_members(world: World, actor: str) -> None:
    with world.client(actor) as client:
        seen = shared_center("self")(world, client)
    members = actor in ("admin", "m7", "m3", "m1")
    assert ("priv" in seen) is members
    assert ("other" in seen) is False


# ---------------------------------------------------------------------------- registry

PULLERS = row("ok", "ok", "ok", "ok", "forbidden", "ok", "forbidden")
MEMBERS_ONLY = row("ok", "ok", "ok", "ok", "forbidden", "forbidden", "forbidden")
PUSHERS = row("ok", "ok", "ok", "forbidden", "forbidden", "forbidden", "forbidden")


# Words only, no bare status numbers: skopeo's message holds the registry URL, whose random
# port may contain "403" or "404".
REFUSALS = {
    "unauthorized": ("unauthorized", "authentication required"),
    "forbidden": ("forbidden", "denied"),
    "not-found": ("manifest unknown", "name unknown", "not found"),
}


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """`ok`, or the kind of refusal skopeo reports."""
    if result.returncode == 0:
        return "ok"
    error = result.stderr.lower()
    for kind, words in REFUSALS.items():
        if any(word in error for word in words):
            return kind
    raise AssertionError(f"unexpected skopeo failure: {result.stderr}")


def reg_pull(repo: str) -> Callable[[World, str], str]:
    return lambda w, actor: outcome(w.skopeo_run(
        actor, "inspect", "--raw", f"docker://{w.backend.host}/{w.org}/{repo}:v1"
    ))


def reg_tags(repo: str) -> Callable[[World, str], str]:
    return lambda w, actor: outcome(w.skopeo_run(
        actor, "list-tags", f"docker://{w.backend.host}/{w.org}/{repo}"
    ))


def reg_push(w: World, actor: str) -> str:
    return outcome(w.push(actor, f"{w.org}/priv:{unique('push')}"))


def reg_delete(w: World, actor: str) -> str:
    repo = w.fresh_repo()
    pushed = w.push("admin", f"{w.org}/{repo}:v1")
    assert pushed.returncode == 0, pushed.stderr
    return outcome(w.skopeo_run(actor, "delete", f"docker://{w.backend.host}/{w.org}/{repo}:v1"))


REGISTRY_MATRIX: list[tuple[str, Callable[[World, str], str], dict[str, object]]] = [
    ("pull-shared", reg_pull("priv"), PULLERS),
    ("pull-unshared", reg_pull("other"), MEMBERS_ONLY),
    ("pull-public", reg_pull("pub"), row(*["ok"] * 7)),
    # Members learn that a name is free; outsiders get the refusal an existing one gets.
    ("pull-missing", reg_pull("nosuch"),
     row("not-found", "not-found", "not-found", "not-found", "forbidden", "forbidden",
         "forbidden")),
    ("tags-shared", reg_tags("priv"), PULLERS),
    ("tags-unshared", reg_tags("other"), MEMBERS_ONLY),
    ("push", reg_push, PUSHERS),
    ("delete", reg_delete, PUSHERS),
]


@pytest.mark.parametrize(
    ("action", "actor", "expected"),
    [
        pytest.param(fn, actor, table[actor], id=f"{name}-{actor}")
        for name, fn, table in REGISTRY_MATRIX for actor in ACTORS
    ],
)
def test_registry_cell(
    world: World, action: Callable[[World, str], str], actor: str, expected: str
) -> None:
    assert action(world, actor) == expected


CATALOG = {
    "admin": MEMBER_SET, "m7": MEMBER_SET, "m3": MEMBER_SET, "m1": MEMBER_SET,
    "m0": {"pub"}, "shared": {"priv", "pub"}, "stranger": {"pub"},
}


@pytest.mark.parametrize("actor", ACTORS)
def test_catalog_cell(world: World, actor: str) -> None:
    response = httpx.get(f"{world.backend.url}/v2/_catalog", params={"n": "10000"},
                         auth=("user", world.tokens[actor]), timeout=30)
    assert response.status_code == 200, response.text
    prefix = world.org + "/"
    seen = {name[len(prefix):] for name in response.json()["repositories"]
            if name.startswith(prefix)}
    assert seen & MEMBER_SET == CATALOG[actor]


def test_missing_and_invisible_look_alike(world: World) -> None:
    """An outsider cannot tell a private repository from a missing one on the registry."""
    hidden = world.skopeo_run("stranger", "inspect", "--raw",
                              f"docker://{world.backend.host}/{world.org}/other:v1")
    missing = world.skopeo_run("stranger", "inspect", "--raw",
                               f"docker://{world.backend.host}/{world.org}/nosuch:v1")
    assert hidden.returncode == missing.returncode != 0
    assert hidden.stderr.replace("other", "X") == missing.stderr.replace("nosuch", "X")
