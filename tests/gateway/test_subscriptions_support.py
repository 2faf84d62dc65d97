"""Websocket GraphQL clients for both subscription protocols, and a gateway on a real port.

Imported by the subscription tests; it holds no tests itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
import websockets

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import free_port

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
_NEXT = {TRANSPORT_WS: "next", LEGACY_WS: "data"}
_START = {TRANSPORT_WS: "subscribe", LEGACY_WS: "start"}


class RunningGateway:
    """A gateway app under uvicorn in a thread; `app` stays readable after `stop` (metrics)."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    def start(self) -> str:
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                break
            threading.Event().wait(0.025)
        assert self.server.started, "gateway did not start"
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "gateway did not stop"


@contextmanager
def serve_gateway(settings: Settings) -> Iterator[str]:
    """The gateway under uvicorn in a thread (websockets need a real server); yields its URL."""
    gateway = RunningGateway(settings)
    try:
        yield gateway.start()
    finally:
        gateway.stop()


class Subscription:
    """One websocket connection running one subscription; `messages` in arrival order."""

    def __init__(
        self, url: str, protocol: str, token: str | None, *, stop_after: int | None = None,
        stop_when: Callable[[dict[str, Any]], bool] | None = None,
        on_data: Callable[[dict[str, Any]], object] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url.replace("http://", "ws://") + "/graphql"
        self.protocol = protocol
        self.token = token
        self.headers = headers or {}
        self.payloads: list[dict[str, Any]] = []  # `data` of each next/data message
        self.errors: list[Any] = []  # payload of an error message, or `errors` of a result
        self.completed = False
        self.stop_after = stop_after  # close the connection after this many events
        self.stop_when = stop_when or (lambda data: False)
        self.on_data = on_data or (lambda data: None)

    async def run(self, query: str, variables: dict[str, Any]) -> Subscription:
        protocols = [self.protocol]
        async with websockets.connect(
            self.url, subprotocols=protocols,  # type: ignore[arg-type]
            additional_headers=self.headers, max_queue=None,
        ) as ws:
            init: dict[str, Any] = {"type": "connection_init"}
            if self.token is not None:
                init["payload"] = {"authToken": self.token}
            await ws.send(json.dumps(init))
            await self._expect_ack(ws)
            await ws.send(json.dumps({"id": "1", "type": _START[self.protocol],
                                      "payload": {"query": query, "variables": variables}}))
            await self._read(ws)
        return self

    async def _expect_ack(self, ws: Any) -> None:
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "connection_ack":
                return
            assert message["type"] == "ka", message

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            message = json.loads(raw)
            kind = message["type"]
            if kind == _NEXT[self.protocol]:
                payload = message["payload"]
                if payload.get("errors"):
                    self.errors.extend(payload["errors"])
                if payload.get("data") is not None:
                    self.payloads.append(payload["data"])
                    self.on_data(payload["data"])
                    if self.stop_when(payload["data"]) or len(self.payloads) == self.stop_after:
                        return
            elif kind == "error":
                self.errors.extend(message["payload"] if isinstance(message["payload"], list)
                                   else [message["payload"]])
                return
            elif kind == "complete":
                self.completed = True
                return


def metric(text: str, name: str, labels: str) -> float | None:
    """The value of `name{...labels...}` in a Prometheus text page, or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return None
