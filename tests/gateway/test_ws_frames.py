"""Websocket messages are text frames on both protocols (browsers get Blobs from binary)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websockets

from gateway.settings import Settings
from tests.conftest import BackendServer
from tests.gateway.test_subscriptions_support import LEGACY_WS, TRANSPORT_WS, serve_gateway

_START = {TRANSPORT_WS: "subscribe", LEGACY_WS: "start"}
_RESULT = {TRANSPORT_WS: "next", LEGACY_WS: "data"}
STATUS = 'subscription { pipelineStatus(pipelineId: "nosuchpipeline") { status } }'


@pytest.fixture(scope="module")
def ws_url(backend: BackendServer) -> Iterator[str]:
    with serve_gateway(Settings(backend_url=backend.url)) as url:
        yield url.replace("http://", "ws://") + "/graphql"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_messages_are_text_frames(ws_url: str, backend: BackendServer, protocol: str
                                        ) -> None:
    async with websockets.connect(ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"authToken": backend.admin_token}}))
        ack = await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": _START[protocol],
                                  "payload": {"query": STATUS}}))
        result = await ws.recv()

    assert type(ack) is str and json.loads(ack)["type"] == "connection_ack"
    assert type(result) is str
    message = json.loads(result)
    assert message["type"] == _RESULT[protocol]
    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


STEP_LOG = """subscription($job: String!, $from: Int!) {
  stepLog(pipelineId: "p", stageIndex: 0, jobId: $job, fromOffset: $from) { offset } }"""


@pytest.mark.parametrize(("job", "offset", "message"), [
    ("latest", -5, "fromOffset must be 0 or more, got -5"),
    ("zz/../latest", 0, "jobId must be 'latest' or 32 hex characters, got 'zz/../latest'"),
])
async def test_step_log_subscription_rejects_bad_arguments(
    ws_url: str, backend: BackendServer, job: str, offset: int, message: str
) -> None:
    protocols = [TRANSPORT_WS]
    async with websockets.connect(ws_url, subprotocols=protocols) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"authToken": backend.admin_token}}))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": STEP_LOG, "variables": {"job": job, "from": offset}}}))
        reply = json.loads(await ws.recv())

    errors = reply["payload"]["errors"]
    assert [(e["message"], e["extensions"]["code"]) for e in errors] == [
        (message, "BAD_USER_INPUT")]
