"""Shares with other accounts, shared repository lists, and repository visibility."""

from __future__ import annotations

import base64

from tests.conftest import BackendServer
from tests.gateway.conftest import Gateway, unique
from tests.gateway.test_accounts import Account, backend_codes, codes, new_caller

SETUP = """mutation ($ns: String!) { createOrganization(input: {name: $ns}) { name }
    createRepository(input: {namespace: $ns, name: "team/app"}) { name } }"""
SHARE_FIELDS = """account permit deadline description isValid creatorName namespace
    repositoryName repository { name }"""
CREATE = """mutation ($ns: String!, $a: String!, $d: String! = "forever") {
    createShare(input: {namespace: $ns, repository: "team/app", account: $a, deadline: $d,
    description: "for ci"}) { FIELDS } }""".replace("FIELDS", SHARE_FIELDS)
UPDATE = """mutation ($ns: String!, $a: String!, $d: String) {
    updateShare(input: {namespace: $ns, repository: "team/app", account: $a, deadline: $d}) {
    account deadline description isValid } }"""
DELETE = """mutation ($ns: String!, $a: String!) {
    deleteShare(namespace: $ns, repository: "team/app", account: $a) }"""
EXISTS = """query ($ns: String!, $a: String!) {
    shareExists(namespace: $ns, repository: "team/app", account: $a) }"""
SHARES = """query ($ns: String!) { repository(namespace: $ns, name: "team/app") {
    isPublic shares { account permit } } }"""
SHARED = """query ($c: ShareCenter!, $ns: String!) {
    sharedRepositories(center: $c, filter: {namespace: $ns}) { totalCount
    nodes { ownerAccount isValid repository { namespace name } } } }"""
VISIBILITY = """mutation ($ns: String!, $p: Boolean!) {
    setRepositoryVisibility(namespace: $ns, name: "team/app", isPublic: $p) { name isPublic } }"""
READ = 'query ($ns: String!) { repository(namespace: $ns, name: "team/app") { name isPublic } }'


async def setup(gateway: Gateway, backend: BackendServer) -> tuple[str, Account]:
    ns = unique()
    await gateway.data(SETUP, {"ns": ns})
    return ns, new_caller(backend, user="sam")


async def test_share_lifecycle(gateway: Gateway, backend: BackendServer) -> None:
    ns, other = await setup(gateway, backend)
    vars = {"ns": ns, "a": other.name}

    created = (await gateway.data(CREATE, vars))["createShare"]
    assert created == {
        "account": other.name, "permit": "READ", "deadline": "forever",
        "description": "for ci", "isValid": True, "creatorName": "admin", "namespace": ns,
        "repositoryName": "team/app", "repository": {"name": "team/app"},
    }
    assert (await gateway.data(EXISTS, vars)) == {"shareExists": True}
    assert (await gateway.data(EXISTS, {"ns": ns, "a": "default"})) == {"shareExists": False}
    assert (await gateway.data(SHARES, {"ns": ns}))["repository"] == {
        "isPublic": False, "shares": [{"account": other.name, "permit": "READ"}]}

    updated = await gateway.data(UPDATE, {**vars, "d": "2099-01-31T10:00:00+02:00"})
    assert updated["updateShare"] == {"account": other.name, "isValid": True,
                                      "deadline": "2099-01-31T08:00:00.000000Z",
                                      "description": "for ci"}  # kept: not in the input

    deleted = (await gateway.data(DELETE, vars))["deleteShare"]
    assert base64.b64decode(deleted).decode() == f"RepositoryShare:{ns}/team/app@{other.name}"
    assert (await gateway.data(EXISTS, vars)) == {"shareExists": False}
    assert codes(await gateway.post(DELETE, vars)) == ["NOT_FOUND"]


async def test_shared_repositories_from_both_sides(
    gateway: Gateway, backend: BackendServer
) -> None:
    ns, other = await setup(gateway, backend)
    await gateway.data(CREATE, {"ns": ns, "a": other.name})

    mine = (await gateway.data(SHARED, {"c": "SELF", "ns": ns}))["sharedRepositories"]
    theirs = await gateway.post(SHARED, {"c": "THIRDPARTY", "ns": ns}, token=other.token)
    not_for_me = (await gateway.data(SHARED, {"c": "THIRDPARTY", "ns": ns}))

    repo = {"namespace": ns, "name": "team/app"}
    assert mine == {"totalCount": 1, "nodes": [
        {"ownerAccount": "default", "isValid": None, "repository": repo}]}
    assert theirs["data"]["sharedRepositories"] == {"totalCount": 1, "nodes": [
        {"ownerAccount": "default", "isValid": True, "repository": repo}]}
    assert not_for_me["sharedRepositories"] == {"totalCount": 0, "nodes": []}
    # the receiving account reads the repository, but not who else it is shared with
    assert (await gateway.post(READ, {"ns": ns}, token=other.token))["data"] == {
        "repository": {"name": "team/app", "isPublic": False}}
    assert codes(await gateway.post(SHARES, {"ns": ns}, token=other.token)) == ["FORBIDDEN"]


async def test_share_bad_input(gateway: Gateway, backend: BackendServer) -> None:
    ns, other = await setup(gateway, backend)
    vars = {"ns": ns, "a": other.name}

    bad_deadline = await gateway.post(CREATE, {**vars, "d": "next tuesday"})
    past_deadline = await gateway.post(CREATE, {**vars, "d": "2001-01-01T00:00:00Z"})
    unknown = await gateway.post(CREATE, {"ns": ns, "a": unique("ghost")})
    own_account = await gateway.post(CREATE, {"ns": ns, "a": "default"})
    write = await gateway.post(CREATE.replace('description: "for ci"', "permit: WRITE"), vars)
    bad_name = await gateway.post(CREATE, {"ns": "Bad_Name", "a": other.name})

    assert codes(bad_deadline) == ["BAD_USER_INPUT"]
    assert codes(past_deadline) == ["BAD_USER_INPUT"]
    assert codes(unknown) == ["BAD_USER_INPUT"]
    assert codes(own_account) == ["BAD_USER_INPUT"]
    assert codes(write) == ["GRAPHQL_VALIDATION_FAILED"]  # READ is the schema's only permit
    assert codes(bad_name) == ["BAD_USER_INPUT"]
    assert (await gateway.data(SHARES, {"ns": ns}))["repository"]["shares"] == []

    await gateway.data(CREATE, vars)
    twice = await gateway.post(CREATE, vars)
    assert (codes(twice), backend_codes(twice)) == (["CONFLICT"], ["SVCSTG.SWR.4090089"])
    missing = await gateway.post(UPDATE, {"ns": ns, "a": unique("ghost"), "d": "forever"})
    assert codes(missing) == ["NOT_FOUND"]


async def test_share_forbidden_to_other_accounts(
    gateway: Gateway, backend: BackendServer
) -> None:
    ns, other = await setup(gateway, backend)
    third = new_caller(backend, user="tom")
    await gateway.data(CREATE, {"ns": ns, "a": other.name})

    # the receiving account holds read on the repository, not manage
    by_receiver = await gateway.post(CREATE, {"ns": ns, "a": third.name}, token=other.token)
    delete_by_receiver = await gateway.post(DELETE, {"ns": ns, "a": other.name},
                                            token=other.token)
    # an unrelated account does not even learn that the organization exists
    by_stranger = await gateway.post(CREATE, {"ns": ns, "a": third.name}, token=third.token)
    exists_by_stranger = await gateway.post(EXISTS, {"ns": ns, "a": other.name},
                                            token=third.token)

    assert codes(by_receiver) == ["FORBIDDEN"]
    assert codes(delete_by_receiver) == ["FORBIDDEN"]
    assert codes(by_stranger) == ["NOT_FOUND"]
    assert codes(exists_by_stranger) == ["NOT_FOUND"]
    assert (await gateway.data(EXISTS, {"ns": ns, "a": other.name})) == {"shareExists": True}


async def test_public_and_private(gateway: Gateway, backend: BackendServer) -> None:
    ns, other = await setup(gateway, backend)

    assert (await gateway.post(READ, {"ns": ns}, token=other.token))["data"] == {
        "repository": None}
    public = (await gateway.data(VISIBILITY, {"ns": ns, "p": True}))
    seen = (await gateway.post(READ, {"ns": ns}, token=other.token))["data"]
    by_other = await gateway.post(VISIBILITY, {"ns": ns, "p": False}, token=other.token)
    private = (await gateway.data(VISIBILITY, {"ns": ns, "p": False}))

    assert public == {"setRepositoryVisibility": {"name": "team/app", "isPublic": True}}
    assert seen == {"repository": {"name": "team/app", "isPublic": True}}
    assert codes(by_other) == ["FORBIDDEN"]
    assert private == {"setRepositoryVisibility": {"name": "team/app", "isPublic": False}}
    assert (await gateway.post(READ, {"ns": ns}, token=other.token))["data"] == {
        "repository": None}
