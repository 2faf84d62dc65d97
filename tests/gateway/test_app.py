"""Health, readiness, metrics, request ids, and the committed schema file."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.schema import schema
from tests.gateway.conftest import Gateway, open_gateway

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


async def test_health_and_readiness(gateway: Gateway) -> None:
    health = await gateway.client.get("/healthz")
    ready = await gateway.client.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_metrics_count_requests_calls_and_errors(gateway: Gateway) -> None:
    await gateway.data("{ organizations { totalCount } }")
    await gateway.post("{ organizations { totalCount } }", token=None)

    text = (await gateway.client.get("/metrics")).text

    assert 'gateway_graphql_requests_total{kind="http"} 2.0' in text
    assert 'gateway_graphql_errors_total{code="UNAUTHENTICATED"} 1.0' in text
    assert ('gateway_backend_calls_total{method="GET",route="/v2/manage/namespaces",'
            'status="200"} 1.0') in text
    assert "gateway_backend_calls_per_operation_count 2.0" in text


async def test_request_id_is_echoed(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz", headers={"X-Request-Id": "req-42"})
    generated = await gateway.client.get("/healthz")

    assert response.headers["x-request-id"] == "req-42"
    assert len(generated.headers["x-request-id"]) == 32


async def test_graphiql_is_served_to_browsers(gateway: Gateway) -> None:
    response = await gateway.client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text() == schema.as_str() + "\n", (
        "schema.graphql is stale: run `swr-gateway export-schema -o schema.graphql`"
    )


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port whose connections are accepted (listen backlog) and never answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_readiness_gives_up_on_a_hung_backend(silent_url: str) -> None:
    async for gw in open_gateway(silent_url, None, ready_timeout=0.3):
        ready = await gw.client.get("/readyz")

        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable",
                                "reason": "backend did not answer within 0.3s"}
