"""Reads through the gateway against the embedded backend: values, call counts, paging, nodes."""

from __future__ import annotations

import base64

from tests.gateway.conftest import Gateway

NESTED = """
query ($name: String!) {
  organization(name: $name) {
    name permission
    repositories(orderBy: {field: NAME}) {
      totalCount
      edges { node {
        name namespace isPublic numImages path
        tags(orderBy: {field: NAME}) { totalCount edges { node { name tagType isIndex } } }
      } }
    }
  }
}
"""

ALL_ORGS = """
{ organizations { edges { node { name repositories(first: 50) {
    edges { node { name tags(first: 50) { edges { node { name digest } } } } } } } } } }
"""


def tags_of(repo: dict) -> list[str]:
    return [edge["node"]["name"] for edge in repo["tags"]["edges"]]


async def test_nested_query_returns_backend_values(gateway: Gateway, catalog: dict) -> None:
    org = catalog["a"]

    data = await gateway.data(NESTED, {"name": org})

    organization = data["organization"]
    assert (organization["name"], organization["permission"]) == (org, "MANAGE")
    repos = {e["node"]["name"]: e["node"] for e in organization["repositories"]["edges"]}
    assert organization["repositories"]["totalCount"] == 3
    assert list(repos) == ["app", "empty", "team/tool"]
    assert tags_of(repos["app"]) == ["v1", "v2", "v3"]
    assert repos["app"]["tags"]["totalCount"] == 3
    assert repos["app"]["numImages"] == 3
    assert tags_of(repos["team/tool"]) == ["v1"]
    assert tags_of(repos["empty"]) == []
    assert repos["team/tool"]["path"].endswith(f"/{org}/team/tool")
    assert repos["app"]["tags"]["edges"][0]["node"] == {"name": "v1", "tagType": 0,
                                                        "isIndex": False}


async def test_tags_carry_the_pushed_digest(gateway: Gateway, catalog: dict) -> None:
    query = """query ($ns: String!) { repository(namespace: $ns, name: "app") {
        tags { edges { node { digest imageId size schemaVersion manifest } } } } }"""

    data = await gateway.data(query, {"ns": catalog["a"]})

    nodes = [e["node"] for e in data["repository"]["tags"]["edges"]]
    assert len({n["digest"] for n in nodes}) == 1  # v2 and v3 were copied from v1
    assert nodes[0]["digest"].startswith("sha256:") and len(nodes[0]["digest"]) == 71
    assert nodes[0]["schemaVersion"] == 2 and nodes[0]["size"] > 0
    assert nodes[0]["digest"].removeprefix("sha256:") != nodes[0]["imageId"]
    assert '"schemaVersion"' in nodes[0]["manifest"]


async def test_repeated_parents_cost_no_extra_backend_calls(
    gateway: Gateway, catalog: dict
) -> None:
    once = "query ($n: String!) { a: organization(name: $n) { %s } }"
    twice = "query ($n: String!) { a: organization(name: $n) { %s } " \
        "b: organization(name: $n) { %s } }"
    body = "name repositories { edges { node { name tags { edges { node { name } } } } } }"
    variables = {"n": catalog["a"]}

    before = await gateway.backend_calls()
    await gateway.data(once % body, variables)
    single = await gateway.backend_calls() - before
    await gateway.data(twice % (body, body), variables)
    double = await gateway.backend_calls() - before - single

    assert single == 1 + 1 + 3  # organization, its repositories, tags of each repository
    assert double == single


async def test_all_organizations_call_count(gateway: Gateway, catalog: dict) -> None:
    before = await gateway.backend_calls()
    data = await gateway.data(ALL_ORGS)
    calls = await gateway.backend_calls() - before

    orgs = [e["node"] for e in data["organizations"]["edges"]]
    repos = sum(len(o["repositories"]["edges"]) for o in orgs)
    assert calls == 1 + len(orgs) + repos
    names = {o["name"] for o in orgs}
    assert {catalog["a"], catalog["b"]} <= names


async def test_pagination_first_after(gateway: Gateway, catalog: dict) -> None:
    query = """query ($ns: String!, $after: String) { repository(namespace: $ns, name: "app") {
        tags(first: 2, after: $after, orderBy: {field: NAME}) {
          totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
          edges { cursor node { name } } } } }"""
    ns = catalog["a"]

    first = (await gateway.data(query, {"ns": ns}))["repository"]["tags"]
    cursor = first["pageInfo"]["endCursor"]
    second = (await gateway.data(query, {"ns": ns, "after": cursor}))["repository"]["tags"]

    assert [e["node"]["name"] for e in first["edges"]] == ["v1", "v2"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert [e["node"]["name"] for e in second["edges"]] == ["v3"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True


async def test_repositories_filter_and_first_zero(gateway: Gateway, catalog: dict) -> None:
    query = """query ($ns: String!) {
        all: repositories(filter: {namespace: $ns}, first: 0) { totalCount edges { cursor } }
        tool: repositories(filter: {namespace: $ns, name: "tool"}) { edges { node { name } } } }"""

    data = await gateway.data(query, {"ns": catalog["a"]})

    assert data["all"] == {"totalCount": 3, "edges": []}
    assert [e["node"]["name"] for e in data["tool"]["edges"]] == ["team/tool"]


async def test_node_round_trip(gateway: Gateway, catalog: dict) -> None:
    ns = catalog["a"]
    ids_query = """query ($ns: String!) { organization(name: $ns) { id }
        repository(namespace: $ns, name: "team/tool") { id
          tags { edges { node { id } } } } }"""
    node_query = """query ($id: ID!) { node(id: $id) { __typename id
        ... on Organization { name } ... on Repository { name namespace }
        ... on Tag { name repository { name } } } }"""

    ids = await gateway.data(ids_query, {"ns": ns})
    org_id = ids["organization"]["id"]
    repo_id = ids["repository"]["id"]
    tag_id = ids["repository"]["tags"]["edges"][0]["node"]["id"]

    org = (await gateway.data(node_query, {"id": org_id}))["node"]
    repo = (await gateway.data(node_query, {"id": repo_id}))["node"]
    tag = (await gateway.data(node_query, {"id": tag_id}))["node"]
    assert org == {"__typename": "Organization", "id": org_id, "name": ns}
    assert repo == {"__typename": "Repository", "id": repo_id, "name": "team/tool",
                    "namespace": ns}
    assert tag == {"__typename": "Tag", "id": tag_id, "name": "v1",
                   "repository": {"name": "team/tool"}}
    assert base64.b64decode(tag_id).decode() == f"Tag:{ns}/team/tool:v1"


async def test_repository_links_back_to_organization(gateway: Gateway, catalog: dict) -> None:
    query = """query ($ns: String!) { repository(namespace: $ns, name: "app") {
        organization { name permission } } }"""

    data = await gateway.data(query, {"ns": catalog["b"]})
    assert data["repository"] is None

    data = await gateway.data(query, {"ns": catalog["a"]})
    assert data["repository"]["organization"] == {"name": catalog["a"], "permission": "MANAGE"}


async def test_missing_objects_are_null(gateway: Gateway, catalog: dict) -> None:
    query = """{ organization(name: "no-such-org") { name }
        repository(namespace: "no-such-org", name: "x") { name }
        node(id: "T3JnYW5pemF0aW9uOm5vLXN1Y2gtb3Jn") { id } }"""

    assert await gateway.data(query) == {"organization": None, "repository": None, "node": None}
