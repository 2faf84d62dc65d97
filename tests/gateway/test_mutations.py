"""Mutations through the gateway: each returns the changed object or the deleted id."""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.gateway.conftest import Gateway, unique

CREATE_ORG = "mutation ($n: String!) { createOrganization(input: {name: $n}) { name permission } }"
DELETE_ORG = "mutation ($n: String!) { deleteOrganization(name: $n) }"
CREATE_REPO = """mutation ($ns: String!) { createRepository(input: {namespace: $ns,
    name: "team/app", isPublic: true, category: LINUX, description: "first"}) {
    name namespace isPublic category description numImages } }"""
UPDATE_REPO = """mutation ($ns: String!) { updateRepository(input: {namespace: $ns,
    name: "team/app", description: "second"}) { isPublic category description } }"""
DELETE_REPO = 'mutation ($ns: String!) { deleteRepository(namespace: $ns, name: "team/app") }'


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_create_and_delete_organization(gateway: Gateway) -> None:
    name = unique()

    created = await gateway.data(CREATE_ORG, {"n": name})
    again = await gateway.post(CREATE_ORG, {"n": name})
    deleted = await gateway.data(DELETE_ORG, {"n": name})
    after = await gateway.data("query ($n: String!) { organization(name: $n) { name } }",
                               {"n": name})

    assert created["createOrganization"] == {"name": name, "permission": "MANAGE"}
    assert codes(again) == ["CONFLICT"]
    assert again["errors"][0]["extensions"]["backendCode"] == "SVCSTG.SWR.4090060"
    assert base64.b64decode(deleted["deleteOrganization"]).decode() == f"Organization:{name}"
    assert after == {"organization": None}


async def test_repository_create_update_delete(gateway: Gateway) -> None:
    ns = unique()
    await gateway.data(CREATE_ORG, {"n": ns})

    created = (await gateway.data(CREATE_REPO, {"ns": ns}))["createRepository"]
    updated = (await gateway.data(UPDATE_REPO, {"ns": ns}))["updateRepository"]
    deleted = (await gateway.data(DELETE_REPO, {"ns": ns}))["deleteRepository"]
    missing = await gateway.post(DELETE_REPO, {"ns": ns})

    assert created == {"name": "team/app", "namespace": ns, "isPublic": True,
                       "category": "linux", "description": "first", "numImages": 0}
    assert updated == {"isPublic": True, "category": "linux", "description": "second"}
    assert base64.b64decode(deleted).decode() == f"Repository:{ns}/team/app"
    assert codes(missing) == ["NOT_FOUND"]


async def test_delete_tag(gateway: Gateway, push_image: Callable[[str], None]) -> None:
    ns = unique()
    await gateway.data(CREATE_ORG, {"n": ns})
    push_image(f"{ns}/doomed:v1")
    delete = """mutation ($ns: String!) {
        deleteTag(namespace: $ns, repository: "doomed", tag: "v1") }"""
    count = "query ($ns: String!) { repository(namespace: $ns, name: \"doomed\") { numImages } }"

    assert (await gateway.data(count, {"ns": ns}))["repository"]["numImages"] == 1
    deleted = (await gateway.data(delete, {"ns": ns}))["deleteTag"]
    again = await gateway.post(delete, {"ns": ns})

    assert base64.b64decode(deleted).decode() == f"Tag:{ns}/doomed:v1"
    assert (await gateway.data(count, {"ns": ns}))["repository"]["numImages"] == 0
    assert codes(again) == ["NOT_FOUND"]


async def test_invalid_names_are_bad_user_input(gateway: Gateway) -> None:
    bad_org = await gateway.post(CREATE_ORG, {"n": "Not_Valid"})
    bad_repo = await gateway.post(
        'mutation { createRepository(input: {namespace: "abc", name: "UPPER"}) { name } }'
    )

    assert codes(bad_org) == ["BAD_USER_INPUT"]
    assert codes(bad_repo) == ["BAD_USER_INPUT"]
