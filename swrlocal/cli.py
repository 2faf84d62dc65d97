"""`swr-local`: run the embedded backend, and administer its accounts and storage while it runs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from swrlocal import identity
from swrlocal.clock import Clock
from swrlocal.db import Database
from swrlocal.registry import gc
from swrlocal.settings import KEEP_ALIVE_SECONDS, BackendSettings
from swrlocal.signing import SecretBox

MAX_AGE_SECONDS = 100 * 365 * 86400


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from swrlocal.app import create_app

    settings = BackendSettings.from_env(host=args.host, port=args.port, data_dir=args.data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings)
    print(f"SWR backend on http://{settings.host}:{settings.port}", flush=True)
    print(f"registry address: {settings.registry_host}", flush=True)
    print(f"data directory: {settings.data_dir.resolve()}", flush=True)
    if settings.mirror_port:  # the pull accelerator listens beside the backend (swrlocal.mirror)
        from swrlocal.mirror.listener import serve_with_mirror

        print(f"pull accelerator on http://{settings.host}:{settings.mirror_port}", flush=True)
        serve_with_mirror(app, settings)
        return 0
    # uvloop and httptools named rather than left to "auto"; no access log: a gateway's nested
    # read is hundreds of requests, and slow or failed ones are logged by ObservabilityMiddleware.
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS, loop="uvloop", http="httptools",
        access_log=False,
    )
    return 0


def _admin(args: argparse.Namespace, action: Callable[[Database, Clock], str]) -> int:
    settings = BackendSettings.from_env(data_dir=args.data_dir)
    db = Database.open(settings.data_dir)
    try:
        with db.transaction():
            output = action(db, Clock())
    except identity.IdentityError as exc:
        print(f"swr-local: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if output:
        print(output)
    return 0


def account_create(args: argparse.Namespace) -> int:
    return _admin(args, lambda db, clock: identity.create_account(db, args.name, clock))


def user_create(args: argparse.Namespace) -> int:
    return _admin(
        args,
        lambda db, clock: identity.create_user(
            db, args.account, args.user, clock, is_admin=args.admin
        ),
    )


def token_create(args: argparse.Namespace) -> int:
    def action(db: Database, clock: Clock) -> str:
        return identity.create_token(db, identity.find_user_id(db, args.account, args.user), clock)

    return _admin(args, action)


def token_revoke(args: argparse.Namespace) -> int:
    token = args.token if args.token != "-" else sys.stdin.readline().strip()

    def action(db: Database, clock: Clock) -> str:
        if not identity.revoke_token(db, token, clock):
            raise identity.IdentityError("no active token matches")
        return ""

    return _admin(args, action)


def access_key_create(args: argparse.Namespace) -> int:
    def action(db: Database, clock: Clock) -> str:
        user_id = identity.find_user_id(db, args.account, args.user)
        box = SecretBox.for_data_dir(db.path.parent)
        access_key, secret_key = identity.create_access_key(db, user_id, clock, box)
        return f"{access_key}\n{secret_key}"

    return _admin(args, action)


def access_key_revoke(args: argparse.Namespace) -> int:
    def action(db: Database, clock: Clock) -> str:
        if not identity.revoke_access_key(db, args.access_key, clock):
            raise identity.IdentityError("no active access key matches")
        return ""

    return _admin(args, action)


def parse_age(text: str) -> timedelta:
    """`90`, `90s`, `30m`, `24h` or `2d`."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age like 90s, 30m, 24h or 2d"
        ) from None
    if not 0 <= seconds < MAX_AGE_SECONDS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} is out of range")
    return timedelta(seconds=seconds)


def collect_garbage(args: argparse.Namespace) -> int:
    settings = BackendSettings.from_env(data_dir=args.data_dir)
    db = Database.open(settings.data_dir)
    try:
        freed = gc.collect(db, settings.data_dir, Clock().now(), args.max_age)
    finally:
        db.close()
    for item in freed:
        print(f"{item.kind} {item.name} {item.size}")
    print(gc.summary(freed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swr-local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--data-dir", type=Path, default=None, help="default $SWR_DATA_DIR")
        return sub

    run = with_data_dir(commands.add_parser("serve", help="run the backend"))
    run.add_argument("--host", default=None, help="default $SWR_BACKEND_HOST or 127.0.0.1")
    run.add_argument("--port", type=int, default=None, help="default $SWR_BACKEND_PORT or 8080")
    run.set_defaults(handler=serve)

    account = commands.add_parser("account", help="accounts (domains)")
    account_commands = account.add_subparsers(dest="action", required=True)
    create = with_data_dir(account_commands.add_parser("create", help="create an account"))
    create.add_argument("name")
    create.set_defaults(handler=account_create)

    user = commands.add_parser("user", help="users of an account")
    user_commands = user.add_subparsers(dest="action", required=True)
    create = with_data_dir(user_commands.add_parser("create", help="create a user"))
    create.add_argument("account")
    create.add_argument("user")
    create.add_argument("--admin", action="store_true", help="administrator of the account")
    create.set_defaults(handler=user_create)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="action", required=True)
    create = with_data_dir(token_commands.add_parser("create", help="print a new token"))
    create.add_argument("account")
    create.add_argument("user")
    create.set_defaults(handler=token_create)
    revoke = with_data_dir(token_commands.add_parser("revoke", help="revoke a token"))
    revoke.add_argument("token", help="the token, or - to read it from standard input")
    revoke.set_defaults(handler=token_revoke)

    keys = commands.add_parser("access-key", help="access keys (AK/SK) for signed requests")
    key_commands = keys.add_subparsers(dest="action", required=True)
    create = with_data_dir(
        key_commands.add_parser("create", help="print a new access key, then its secret key")
    )
    create.add_argument("account")
    create.add_argument("user")
    create.set_defaults(handler=access_key_create)
    revoke = with_data_dir(key_commands.add_parser("revoke", help="revoke an access key"))
    revoke.add_argument("access_key")
    revoke.set_defaults(handler=access_key_revoke)

    collect = with_data_dir(commands.add_parser(
        "gc", help="remove unreferenced blobs and abandoned uploads (safe while serving)"
    ))
    collect.add_argument(
        "--max-age", type=parse_age, default=gc.DEFAULT_MAX_AGE,
        help="spare anything newer than this (90s, 30m, 24h, 2d; default 24h)",
    )
    collect.set_defaults(handler=collect_garbage)

    # --- official images (swrlocal.official): `swr-local official import ...` ---
    from swrlocal.official.cli import add_commands as add_official_commands

    add_official_commands(commands, with_data_dir)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
