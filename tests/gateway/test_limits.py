"""Request bounds: body bytes, and the document's tokens, depth and aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from graphql import get_introspection_query

from bench.nested_query import query_text
from gateway.limits import QueryLimits
from gateway.settings import Settings
from tests.conftest import free_port
from tests.gateway.conftest import Gateway, open_gateway

MIB = 1 << 20


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def nested(depth: int) -> str:
    """A valid query whose deepest field is `depth` selection sets down."""
    chain = ["organizations", "nodes", *["repositories", "nodes", "organization"] * 5][:depth]
    assert chain[-1] in {"nodes", "organization"}  # object types with a `name`
    return "{ " + " { ".join(chain) + " { name" + " }" * (depth + 1)


async def test_an_oversized_body_is_413(dead_gateway: Gateway) -> None:
    query = "{ " + "__typename " * 400_000 + "}"

    response = await dead_gateway.client.post("/graphql", json={"query": query})

    assert response.status_code == 413
    assert response.json() == {"data": None, "errors": [{
        "message": f"request body exceeds {MIB} bytes", "extensions": {"code": "BAD_USER_INPUT"}}]}


async def test_an_oversized_chunked_body_is_413(dead_gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ '
        for _ in range(70):
            yield b"__typename " * 1500  # 16.5 KB each, 1.15 MB in all, no Content-Length
        yield b'}"}'

    response = await dead_gateway.client.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert codes(response.json()) == ["BAD_USER_INPUT"]


async def test_too_many_tokens(dead_gateway: Gateway) -> None:
    body = await dead_gateway.post("{ " + "__typename " * 2000 + "}")

    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "more than 2000 tokens" in body["errors"][0]["message"]


async def test_too_deep(dead_gateway: Gateway) -> None:
    body = await dead_gateway.post(nested(13))

    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 12"


async def test_too_many_aliases(dead_gateway: Gateway) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"

    body = await dead_gateway.post(query)

    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["message"] == "31 aliases found. Allowed: 30"


async def test_graphiql_introspection_passes(dead_gateway: Gateway) -> None:
    query = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True,
        schema_description=True, input_value_deprecation=True)

    body = await dead_gateway.post(query, token=None)

    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(("target", "aliased"), [
    ("ours", False), ("ours", True), ("nodes", False), ("nodes", True)])
async def test_benchmark_queries_pass(gateway: Gateway, target: str, aliased: bool) -> None:
    data = await gateway.data(query_text(target, aliased))

    assert set(data) == ({"a", "b"} if aliased else {"organizations"})


async def test_limits_come_from_the_environment() -> None:
    settings = Settings.from_env({"SWR_MAX_QUERY_DEPTH": "3", "SWR_MAX_QUERY_TOKENS": "50",
                                  "SWR_MAX_QUERY_ALIASES": "1", "SWR_MAX_BODY_BYTES": "300"})
    assert (settings.query_limits, settings.max_body_bytes) == (QueryLimits(50, 3, 1), 300)

    async for gw in open_gateway(f"http://127.0.0.1:{free_port()}", "t",
                                 query_limits=settings.query_limits, max_body_bytes=300):
        deep = await gw.post(nested(4))
        big = await gw.client.post("/graphql", json={"query": "{ " + "__typename " * 30 + "}"})

        assert deep["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 3"
        assert big.status_code == 413
