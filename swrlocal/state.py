"""What every request handler of the backend reaches through `request.app.state.backend`."""

from __future__ import annotations

from dataclasses import dataclass

from swrlocal.clock import Clock
from swrlocal.db import Database
from swrlocal.settings import BackendSettings


@dataclass
class Backend:
    settings: BackendSettings
    db: Database
    clock: Clock
    admin_token: str
