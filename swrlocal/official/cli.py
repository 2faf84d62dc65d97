"""`swr-local official ...`: admin commands for the official image center."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from swrlocal.clock import Clock
from swrlocal.db import Database
from swrlocal.identity import IdentityError
from swrlocal.mirror.upstream import UpstreamError
from swrlocal.official.importer import SourceError, import_image, open_source
from swrlocal.settings import BackendSettings
from swrlocal.state import Backend


def official_import(args: argparse.Namespace) -> int:
    settings = BackendSettings.from_env(data_dir=args.data_dir)
    db = Database.open(settings.data_dir)
    backend = Backend(settings=settings, db=db, clock=Clock(), admin_token="")
    try:
        source = open_source(args.source)
        done = asyncio.run(import_image(backend, source, args.name, args.description))
    except (SourceError, UpstreamError, IdentityError) as exc:
        print(f"swr-local: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    print(f"library/{done.repository}:{done.tag} {done.digest} {done.size}")
    return 0


def add_commands(
    commands: Any, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    """Add `official import` to the `swr-local` parser (`commands` is its subparsers object)."""
    official = commands.add_parser("official", help="official images (library organization)")
    official_commands = official.add_subparsers(dest="action", required=True)
    run = with_data_dir(official_commands.add_parser(
        "import", help="import an image; prints NAME:TAG, the digest and the image size"
    ))
    run.add_argument("source", help="oci:/layout[:tag] or docker://host[:port]/repo[:tag]")
    run.add_argument("name", help="NAME[:TAG] in the library organization")
    run.add_argument("--description", default=None)
    run.set_defaults(handler=official_import)
