"""Serving the backend and the accelerator from one uvicorn server on two sockets.

One server, one event loop and one signal handler: requests that arrive on the mirror's port
go to the mirror app, everything else (and the lifespan) to the main app. Both apps share the
`Backend`, so the database connection and the blob store directory are the same.
"""

from __future__ import annotations

import socket

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from swrlocal.mirror.app import create_mirror_app
from swrlocal.settings import KEEP_ALIVE_SECONDS, BackendSettings


class PortDispatch:
    def __init__(self, main: ASGIApp, mirror: ASGIApp, mirror_port: int) -> None:
        self.main = main
        self.mirror = mirror
        self.mirror_port = mirror_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server and server[1] == self.mirror_port:
            await self.mirror(scope, receive, send)
            return
        await self.main(scope, receive, send)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def serve_with_mirror(app: Starlette, settings: BackendSettings) -> None:
    if settings.mirror_port == settings.port:
        raise SystemExit("swr-local: SWR_MIRROR_PORT must differ from the backend's port")
    mirror = create_mirror_app(app.state.backend)
    sockets = [_listen(settings.host, settings.port), _listen(settings.host, settings.mirror_port)]
    config = uvicorn.Config(
        PortDispatch(app, mirror, settings.mirror_port), log_level="warning", lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    uvicorn.Server(config).run(sockets=sockets)
