"""`viewer`, organization permissions, and per-request isolation of callers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tests.conftest import BackendServer
from tests.gateway.conftest import Gateway, unique

VIEWER = "{ viewer { userName accountName isAccountAdmin userId accountId } }"
CREATE_ORG = "mutation ($n: String!) { createOrganization(input: {name: $n}) { name } }"
PERMISSIONS = """query ($n: String!) { organization(name: $n) { permission
    permissions { viewer { userName permission } others { userName permission } } } }"""
GRANT = """mutation ($n: String!, $u: String!, $p: Permission!) {
    grantOrganizationPermission(input: {namespace: $n, userName: $u, permission: $p}) {
    name permissions { others { userName permission } } } }"""
UPDATE = GRANT.replace("grantOrganizationPermission", "updateOrganizationPermission")
REVOKE = """mutation ($n: String!, $u: String!) {
    revokeOrganizationPermission(input: {namespace: $n, userName: $u}) {
    name permissions { others { userName } } } }"""


@dataclass(frozen=True)
class Account:
    name: str
    user: str
    token: str


def new_caller(backend: BackendServer, account: str | None = None, user: str = "dev",
               admin: bool = False) -> Account:
    """A user with a token, in a new account (or an existing one)."""
    if account is None:
        account = unique("acct")
        backend.admin("account", "create", account)
    backend.admin("user", "create", account, user, *(["--admin"] if admin else []))
    return Account(account, user, backend.admin("token", "create", account, user))


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def backend_codes(body: dict) -> list[str | None]:
    return [error["extensions"].get("backendCode") for error in body.get("errors", [])]


async def test_viewer_names_the_caller(gateway: Gateway, backend: BackendServer) -> None:
    other = new_caller(backend, user="carol")

    me = (await gateway.data(VIEWER))["viewer"]
    them = (await gateway.post(VIEWER, token=other.token))["data"]["viewer"]

    assert {k: me[k] for k in ("userName", "accountName", "isAccountAdmin")} == {
        "userName": "admin", "accountName": "default", "isAccountAdmin": True}
    assert {k: them[k] for k in ("userName", "accountName", "isAccountAdmin")} == {
        "userName": "carol", "accountName": other.name, "isAccountAdmin": False}
    assert len(me["accountId"]) == 32 and me["accountId"] != them["accountId"]
    assert codes(await gateway.post(VIEWER, token=False)) == ["UNAUTHENTICATED"]


async def test_two_callers_in_one_process_never_share_answers(
    gateway: Gateway, backend: BackendServer
) -> None:
    # given: an organization only the admin can see, and a caller of another account
    org = unique()
    await gateway.data(CREATE_ORG, {"n": org})
    other = new_caller(backend, user="dave")
    query = """query ($n: String!) { viewer { accountName }
        organization(name: $n) { name } }"""

    # when: both ask the same question at once, many times, through one gateway
    bodies = await asyncio.gather(*[
        gateway.post(query, {"n": org}, token=token)
        for _ in range(10) for token in (backend.admin_token, other.token)
    ])

    # then: each answer belongs to the caller that asked
    mine, theirs = bodies[0::2], bodies[1::2]
    assert all(b["data"] == {"viewer": {"accountName": "default"},
                             "organization": {"name": org}} for b in mine)
    assert all(b["data"] == {"viewer": {"accountName": other.name},
                             "organization": None} for b in theirs)


async def test_grant_update_revoke_permission(gateway: Gateway, backend: BackendServer) -> None:
    # given: an organization of the default account and a plain user of that account
    org = unique()
    await gateway.data(CREATE_ORG, {"n": org})
    bob = new_caller(backend, "default", unique("bob"))
    assert (await gateway.post(PERMISSIONS, {"n": org}, token=bob.token))["data"] == {
        "organization": None}

    # when / then: each mutation returns the organization with its new permissions
    granted = (await gateway.data(GRANT, {"n": org, "u": bob.user, "p": "READ"}))
    assert granted["grantOrganizationPermission"] == {
        "name": org, "permissions": {"others": [{"userName": bob.user, "permission": "READ"}]}}
    seen_by_bob = (await gateway.post(PERMISSIONS, {"n": org}, token=bob.token))["data"]
    assert seen_by_bob["organization"]["permission"] == "READ"
    assert seen_by_bob["organization"]["permissions"]["viewer"] == {
        "userName": bob.user, "permission": "READ"}

    updated = await gateway.data(UPDATE, {"n": org, "u": bob.user, "p": "EDIT"})
    assert updated["updateOrganizationPermission"]["permissions"]["others"] == [
        {"userName": bob.user, "permission": "EDIT"}]

    revoked = await gateway.data(REVOKE, {"n": org, "u": bob.user})
    assert revoked["revokeOrganizationPermission"] == {"name": org,
                                                       "permissions": {"others": []}}
    assert (await gateway.post(PERMISSIONS, {"n": org}, token=bob.token))["data"] == {
        "organization": None}


async def test_permission_errors(gateway: Gateway, backend: BackendServer) -> None:
    org = unique()
    await gateway.data(CREATE_ORG, {"n": org})
    bob = new_caller(backend, "default", unique("bob"))
    stranger = new_caller(backend, user="erin")
    await gateway.data(GRANT, {"n": org, "u": bob.user, "p": "READ"})

    twice = await gateway.post(GRANT, {"n": org, "u": bob.user, "p": "EDIT"})
    level_none = await gateway.post(UPDATE, {"n": org, "u": bob.user, "p": "NONE"})
    foreign = await gateway.post(GRANT, {"n": org, "u": stranger.user, "p": "READ"})
    by_reader = await gateway.post(GRANT, {"n": org, "u": "admin", "p": "READ"},
                                   token=bob.token)
    by_stranger = await gateway.post(GRANT, {"n": org, "u": bob.user, "p": "READ"},
                                     token=stranger.token)
    nobody = await gateway.post(UPDATE, {"n": org, "u": "nobody", "p": "READ"})
    never_held = await gateway.post(REVOKE, {"n": org, "u": "nobody"})

    assert (codes(twice), backend_codes(twice)) == (["CONFLICT"], ["SVCSTG.SWR.4090089"])
    assert backend_codes(level_none) == ["SVCSTG.SWR.4001066"]
    assert codes(level_none) == ["BAD_USER_INPUT"]
    assert codes(foreign) == ["BAD_USER_INPUT"]
    assert codes(by_reader) == ["FORBIDDEN"]
    assert codes(by_stranger) == ["NOT_FOUND"]  # an outsider learns nothing of the name
    assert codes(nobody) == ["BAD_USER_INPUT"]
    assert codes(never_held) == ["NOT_FOUND"]
    # nothing changed
    after = await gateway.data(PERMISSIONS, {"n": org})
    assert after["organization"]["permissions"]["others"] == [
        {"userName": bob.user, "permission": "READ"}]
