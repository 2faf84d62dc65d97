"""`swr-gateway`: serve the GraphQL gateway, or print its schema."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger("gateway")


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.launcher import LaunchError, start_embedded_backend
    from gateway.settings import Settings, SettingsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(
            host=args.host,
            port=args.port,
            backend_url=args.backend_url,
            backend_port=args.backend_port,
            data_dir=args.data_dir,
        )
    except SettingsError as exc:  # one line naming the variable, as argparse does for flags
        print(f"swr-gateway: {exc}", file=sys.stderr)
        return 2
    exit_on_signals()
    embedded = None
    if settings.embedded:
        try:
            embedded = start_embedded_backend(
                settings.host, settings.backend_port, settings.data_dir, settings.admin_token
            )
        except LaunchError as exc:
            print(f"swr-gateway: {exc}", file=sys.stderr)
            return 1
        settings = replace(settings, backend_url=embedded.url)

    logger.info(
        "gateway on %s:%d, backend %s (%s), max %d connections, %.1fs timeout",
        settings.host, settings.port, settings.backend_url,
        "embedded" if embedded else "external", settings.max_connections,
        settings.backend_timeout,
    )
    print(f"GraphiQL:          http://{settings.host}:{settings.port}/graphql", flush=True)
    if embedded:
        print(f"Registry address:  {settings.host}:{settings.backend_port}", flush=True)
        print(f"Admin token:       {embedded.admin_token}", flush=True)
    server = uvicorn.Server(uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, log_level="warning"))
    backend_died: list[int] = []
    if embedded:
        embedded.watch(lambda status: backend_exited(server, backend_died, status))
    tune_gc()
    try:
        server.run()
    finally:
        if embedded:
            embedded.stop()
    return 1 if backend_died else 0


def exit_on_signals() -> None:
    """SIGTERM and SIGINT end the process through `SystemExit`, so `finally` blocks run.

    uvicorn handles both while serving, then re-raises the signal once it has shut down; with
    the default SIGTERM action the process would die there without stopping the embedded
    backend.
    """
    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, leave)


def backend_exited(server: uvicorn.Server, died: list[int], status: int) -> None:
    """The embedded backend exited on its own: stop serving and exit non-zero, so a service
    manager restarts the pair rather than keeping a gateway without a backend."""
    logger.error("embedded backend exited unexpectedly with status %d; shutting down", status)
    died.append(status)
    server.should_exit = True  # polled by uvicorn's main loop


def tune_gc() -> None:
    """Fewer full collections while serving: a nested query keeps thousands of objects alive
    (decoded bodies, typed objects), and with 16 queries in flight the default thresholds made
    the collector scan that heap again and again (gateway CPU per query 142 -> 93 ms at c=16,
    docs/benchmarks.md). Start-up objects are frozen out of the scans altogether."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def export_schema(args: argparse.Namespace) -> int:
    from gateway.schema import schema

    text = schema.as_str() + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swr-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the gateway (and the embedded backend)")
    run.add_argument("--host", default=None, help="default $SWR_HOST or 127.0.0.1")
    run.add_argument("--port", type=int, default=None, help="default $SWR_PORT or 8000")
    run.add_argument(
        "--backend-url", default=None, help="default $SWR_BACKEND_URL; empty: embedded"
    )
    run.add_argument("--backend-port", type=int, default=None, help="embedded backend port (8080)")
    run.add_argument(
        "--data-dir", type=Path, default=None, help="embedded backend data (.swr-data)"
    )
    run.set_defaults(handler=serve)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", "-o", default=None, help="write to this file instead")
    export.set_defaults(handler=export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
