"""What every resolver gets as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.backend.client import BackendClient, Caller
from gateway.loaders import Loaders


@dataclass(slots=True)
class Context:
    """Per request (or per websocket connection): the backend client, caller and loaders."""

    client: BackendClient
    caller: Caller
    loaders: Loaders
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None  # websocket `connection_init` payload
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return self.caller.request_id
