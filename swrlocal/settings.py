"""Settings of the embedded backend, read once at start-up from flags and `SWR_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = Path(".swr-data")
# Idle keep-alive connections stay open longer than clients keep them (the gateway: 30 s), so a
# client never sends a request on a connection the server is closing at that moment.
KEEP_ALIVE_SECONDS = 75


@dataclass(frozen=True)
class BackendSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    # Address clients use to reach the registry; it fills `path` fields and the token realm.
    public_host: str = ""
    # Address shown as `internal_path` (the in-cluster pull address on the real service).
    internal_host: str = ""
    admin_token: str | None = field(default=None, repr=False)
    default_account: str = "default"
    default_user: str = "admin"
    registry_token_ttl: int = 300
    max_concurrent_runs: int = 4
    # Test only: serves `POST /__test__/clock` to move the backend's clock. Never in production.
    test_clock: bool = False
    # Pull accelerator (swrlocal.mirror): a second listener on `mirror_port` (0: off) serving
    # a pull-through cache of `mirror_upstream` (and `mirror_gcr_upstream`); with
    # `mirror_domain` the per-account addresses are `http://<prefix>.<mirror_domain>`.
    mirror_port: int = 0
    mirror_upstream: str = ""
    mirror_gcr_upstream: str = ""
    mirror_domain: str = ""

    @property
    def registry_host(self) -> str:
        return self.public_host or f"{self.host}:{self.port}"

    @property
    def internal_registry_host(self) -> str:
        return self.internal_host or self.registry_host

    @property
    def base_url(self) -> str:
        return f"http://{self.registry_host}"

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, **overrides: object
    ) -> BackendSettings:
        """Build settings from `SWR_*` variables; explicit keyword overrides win (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "host": env.get("SWR_BACKEND_HOST", DEFAULT_HOST),
            "port": int(env.get("SWR_BACKEND_PORT", DEFAULT_PORT)),
            "data_dir": Path(env.get("SWR_DATA_DIR", str(DEFAULT_DATA_DIR))),
            "public_host": env.get("SWR_REGISTRY_HOST", ""),
            "internal_host": env.get("SWR_INTERNAL_REGISTRY_HOST", ""),
            "admin_token": env.get("SWR_ADMIN_TOKEN") or None,
            "max_concurrent_runs": int(env.get("SWR_MAX_CONCURRENT_RUNS", 4)),
            "test_clock": env.get("SWR_TEST_CLOCK", "") == "1",
            "mirror_port": int(env.get("SWR_MIRROR_PORT") or 0),
            "mirror_upstream": env.get("SWR_MIRROR_UPSTREAM", ""),
            "mirror_gcr_upstream": env.get("SWR_MIRROR_GCR_UPSTREAM", ""),
            "mirror_domain": env.get("SWR_MIRROR_DOMAIN", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
