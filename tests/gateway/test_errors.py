"""Error codes: authentication, input, an unreachable backend, and masking."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import BackendServer
from tests.gateway.conftest import Gateway

ORGS = "{ organizations { totalCount } }"


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_no_token_is_unauthenticated(gateway: Gateway) -> None:
    body = await gateway.post(ORGS, token=None)

    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_rejected_token_is_unauthenticated(gateway: Gateway) -> None:
    body = await gateway.post(ORGS, token="not-a-real-token")

    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["extensions"]["backendCode"].startswith("SVCSTG.SWR.401")


async def test_x_auth_token_header_is_forwarded(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/graphql", json={"query": ORGS}, headers={"X-Auth-Token": str(gateway.token)}
    )

    assert "errors" not in response.json()
    assert response.json()["data"]["organizations"]["totalCount"] >= 0


async def test_bad_paging_is_bad_user_input(gateway: Gateway) -> None:
    negative = await gateway.post("{ organizations(first: -1) { totalCount } }")
    cursor = await gateway.post('{ repositories(after: "bm9wZQ==") { totalCount } }')
    huge = await gateway.post("{ repositories(first: 5000) { totalCount } }")

    assert codes(negative) == codes(cursor) == codes(huge) == ["BAD_USER_INPUT"]


async def test_validation_errors_have_a_code(gateway: Gateway) -> None:
    body = await gateway.post("{ organizations { nope } }")

    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_backend_down_is_backend_unavailable(dead_gateway: Gateway) -> None:
    body = await dead_gateway.post(ORGS)
    ready = await dead_gateway.client.get("/readyz")

    assert codes(body) == ["BACKEND_UNAVAILABLE"]
    assert ready.status_code == 503
    assert (await dead_gateway.client.get("/healthz")).status_code == 200


class ExplodingTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("secret internals /etc/passwd")


async def test_unexpected_errors_are_masked(backend: BackendServer) -> None:
    app = create_app(Settings(backend_url=backend.url), transport=ExplodingTransport())
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
        async with client:
            response = await client.post(
                "/graphql", json={"query": ORGS}, headers={"X-Auth-Token": "t"}
            )

    body = response.json()
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize("type_name", ["Foo", "Query", "Viewer"])
async def test_global_id_of_no_node_type_is_bad_user_input(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, type_name: str
) -> None:
    global_id = base64.b64encode(f"{type_name}:bar".encode()).decode()

    with caplog.at_level(logging.DEBUG, logger="gateway"):
        body = await gateway.post("query($id: ID!) { node(id: $id) { id } }", {"id": global_id})

    assert body["data"] == {"node": None}
    assert codes(body) == ["BAD_USER_INPUT"]
    assert type_name in body["errors"][0]["message"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)
