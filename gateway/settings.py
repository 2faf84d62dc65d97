"""Gateway settings, read once at start-up from flags and `SWR_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.limits import QueryLimits

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BACKEND_PORT = 8080
DEFAULT_DATA_DIR = Path(".swr-data")
DEFAULT_BACKEND_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_CONCURRENT_FETCHES = 64
DEFAULT_SLOW_CALL_SECONDS = 1.0
# /readyz answers 503 after this long: a probe's own timeout is short (Kubernetes: 1 s by
# default), and a hung backend must read as "not ready", not as a probe that never returns.
DEFAULT_READY_TIMEOUT = 2.0
DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB; the largest test or bench request is under 4 KB
_OFF = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Empty means: start the embedded backend and point the gateway at it.
    backend_url: str = ""
    backend_port: int = DEFAULT_BACKEND_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    admin_token: str | None = field(default=None, repr=False)
    backend_timeout: float = DEFAULT_BACKEND_TIMEOUT
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    # Bound on backend calls one GraphQL request runs at once (sibling fetches of a loader).
    max_concurrent_fetches: int = DEFAULT_MAX_CONCURRENT_FETCHES
    slow_call_seconds: float = DEFAULT_SLOW_CALL_SECONDS
    graphiql: bool = True
    redis_url: str = ""
    # Benchmark/diagnostic switch (`SWR_DATALOADERS=off`): loaders neither dedupe nor cache, so
    # every parent makes its own backend call, as a naive resolver would.
    dataloaders: bool = True
    # Subscriptions (docs/subscriptions.md): access re-check period, per-subscriber queue bound.
    subscription_recheck_seconds: float = 30.0
    subscription_queue_size: int = 1000
    # Seconds a feed retries an unavailable backend before ending subscriptions; seconds a
    # replica's lease on a job's log lasts without renewal (Redis mode).
    subscription_retry_seconds: float = 30.0
    subscription_lease_seconds: float = 10.0
    # Key of signed download links (`gateway.downloads`); empty: a random key per process.
    download_key: str = field(default="", repr=False)
    # Request bounds (gateway/limits.py, QueryLimits): body bytes; document tokens, depth and
    # aliases.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    query_limits: QueryLimits = QueryLimits()

    @property
    def embedded(self) -> bool:
        return not self.backend_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object
                 ) -> Settings:
        """Build settings from `SWR_*` variables; keyword overrides (CLI flags) win when set.

        Raises `SettingsError` naming the variable when a number does not parse."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "host": env.get("SWR_HOST", DEFAULT_HOST),
            "port": _int(env, "SWR_PORT", DEFAULT_PORT),
            "backend_url": env.get("SWR_BACKEND_URL", "").rstrip("/"),
            "backend_port": _int(env, "SWR_BACKEND_PORT", DEFAULT_BACKEND_PORT),
            "data_dir": Path(env.get("SWR_DATA_DIR", str(DEFAULT_DATA_DIR))),
            "admin_token": env.get("SWR_ADMIN_TOKEN") or None,
            "backend_timeout": _float(env, "SWR_BACKEND_TIMEOUT", DEFAULT_BACKEND_TIMEOUT),
            "ready_timeout": _float(env, "SWR_READY_TIMEOUT", DEFAULT_READY_TIMEOUT),
            "max_connections": _int(env, "SWR_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS),
            "max_concurrent_fetches": _int(
                env, "SWR_MAX_CONCURRENT_FETCHES", DEFAULT_MAX_CONCURRENT_FETCHES),
            "slow_call_seconds": _float(env, "SWR_SLOW_CALL_SECONDS", DEFAULT_SLOW_CALL_SECONDS),
            "graphiql": env.get("SWR_GRAPHIQL", "1").lower() not in {"0", "false", "no"},
            "redis_url": env.get("SWR_REDIS_URL", ""),
            "dataloaders": env.get("SWR_DATALOADERS", "on").lower() not in _OFF,
            "subscription_recheck_seconds": _float(env, "SWR_SUBSCRIPTION_RECHECK_SECONDS", 30.0),
            "subscription_queue_size": _int(env, "SWR_SUBSCRIPTION_QUEUE_SIZE", 1000),
            "subscription_retry_seconds": _float(env, "SWR_SUBSCRIPTION_RETRY_SECONDS", 30.0),
            "subscription_lease_seconds": _float(env, "SWR_SUBSCRIPTION_LEASE_SECONDS", 10.0),
            "download_key": env.get("SWR_DOWNLOAD_KEY", ""),
            "max_body_bytes": _int(env, "SWR_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            "query_limits": QueryLimits(
                max_tokens=_int(env, "SWR_MAX_QUERY_TOKENS", QueryLimits.max_tokens),
                max_depth=_int(env, "SWR_MAX_QUERY_DEPTH", QueryLimits.max_depth),
                max_aliases=_int(env, "SWR_MAX_QUERY_ALIASES", QueryLimits.max_aliases),
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


class SettingsError(ValueError):
    """A malformed `SWR_*` variable; the message names it, for a one-line start-up error."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
