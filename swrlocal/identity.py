"""Accounts (domains), their users, API tokens and access keys.

An API token is shown once when created and stored only as its SHA-256, so a copy of the data
directory does not hand out credentials. An access key's secret must be read back to verify
signatures, so it is stored encrypted (`signing.SecretBox`) with a key file kept beside the
database. Every request looks its token or access key up again: a revoked credential stops
working on the next call, with no cache to outlive it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from swrlocal.clock import Clock, rfc3339
from swrlocal.db import Database, Row
from swrlocal.signing import SecretBox

TOKEN_PREFIX = "swr_"
ACCESS_KEY_PREFIX = "SWRL"
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
ADMIN_TOKEN_FILE = "admin-token"


@dataclass(frozen=True)
class Principal:
    user_id: str
    user_name: str
    domain_id: str
    domain_name: str
    is_admin: bool


class IdentityError(ValueError):
    """Raised by the admin operations for unknown or duplicate accounts and users."""


def new_id() -> str:
    return secrets.token_hex(16)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_account(db: Database, name: str, clock: Clock) -> str:
    if db.one("SELECT 1 FROM domains WHERE name = ?", (name,)):
        raise IdentityError(f"account {name!r} already exists")
    domain_id = new_id()
    db.execute(
        "INSERT INTO domains (id, name, created) VALUES (?, ?, ?)",
        (domain_id, name, rfc3339(clock.now())),
    )
    return domain_id


def create_user(
    db: Database, account: str, name: str, clock: Clock, *, is_admin: bool = False
) -> str:
    domain = db.one("SELECT id FROM domains WHERE name = ?", (account,))
    if domain is None:
        raise IdentityError(f"account {account!r} does not exist")
    if db.one("SELECT 1 FROM users WHERE domain_id = ? AND name = ?", (domain["id"], name)):
        raise IdentityError(f"user {name!r} already exists in account {account!r}")
    user_id = new_id()
    db.execute(
        "INSERT INTO users (id, domain_id, name, is_admin, created) VALUES (?, ?, ?, ?, ?)",
        (user_id, domain["id"], name, int(is_admin), rfc3339(clock.now())),
    )
    return user_id


def find_user_id(db: Database, account: str, user: str) -> str:
    row = db.one(
        "SELECT users.id FROM users JOIN domains ON domains.id = users.domain_id"
        " WHERE domains.name = ? AND users.name = ?",
        (account, user),
    )
    if row is None:
        raise IdentityError(f"user {user!r} does not exist in account {account!r}")
    return str(row["id"])


def add_token(db: Database, user_id: str, token: str, clock: Clock) -> None:
    db.execute(
        "INSERT INTO api_tokens (user_id, token_hash, prefix, created) VALUES (?, ?, ?, ?)",
        (user_id, hash_token(token), token[:10], rfc3339(clock.now())),
    )


def create_token(db: Database, user_id: str, clock: Clock) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    add_token(db, user_id, token, clock)
    return token


def revoke_token(db: Database, token: str, clock: Clock) -> bool:
    cursor = db.execute(
        "UPDATE api_tokens SET revoked = ? WHERE token_hash = ? AND revoked IS NULL",
        (rfc3339(clock.now()), hash_token(token)),
    )
    return cursor.rowcount > 0


_PRINCIPAL_COLUMNS = (
    "SELECT users.id AS user_id, users.name AS user_name, users.is_admin,"
    " domains.id AS domain_id, domains.name AS domain_name"
)


def principal_for_token(db: Database, token: str) -> Principal | None:
    row = db.one(
        _PRINCIPAL_COLUMNS + " FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
        " JOIN domains ON domains.id = users.domain_id"
        " WHERE api_tokens.token_hash = ? AND api_tokens.revoked IS NULL",
        (hash_token(token),),
    )
    return None if row is None else _principal(row)


def active_token_id(db: Database, token: str) -> int | None:
    """The id of an API token that is not revoked; registry bearer tokens carry it."""
    value = db.scalar(
        "SELECT id FROM api_tokens WHERE token_hash = ? AND revoked IS NULL", (hash_token(token),)
    )
    return None if value is None else int(value)


def principal_for_token_id(db: Database, token_id: int) -> Principal | None:
    """The owner of an API token still in force, looked up again on every registry request."""
    row = db.one(
        _PRINCIPAL_COLUMNS + " FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
        " JOIN domains ON domains.id = users.domain_id"
        " WHERE api_tokens.id = ? AND api_tokens.revoked IS NULL",
        (token_id,),
    )
    return None if row is None else _principal(row)


def _principal(row: Row) -> Principal:
    return Principal(
        user_id=row["user_id"],
        user_name=row["user_name"],
        domain_id=row["domain_id"],
        domain_name=row["domain_name"],
        is_admin=bool(row["is_admin"]),
    )


@dataclass(frozen=True)
class AccessKey:
    principal: Principal
    secret_enc: bytes


def create_access_key(
    db: Database, user_id: str, clock: Clock, box: SecretBox
) -> tuple[str, str]:
    """A new access key of the user; the pair (AK, SK) is shown once and the SK kept encrypted."""
    access_key = ACCESS_KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    secret_key = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    db.execute(
        "INSERT INTO access_keys (access_key, user_id, secret_enc, created) VALUES (?, ?, ?, ?)",
        (access_key, user_id, box.encrypt(secret_key), rfc3339(clock.now())),
    )
    return access_key, secret_key


def revoke_access_key(db: Database, access_key: str, clock: Clock) -> bool:
    cursor = db.execute(
        "UPDATE access_keys SET revoked = ? WHERE access_key = ? AND revoked IS NULL",
        (rfc3339(clock.now()), access_key),
    )
    return cursor.rowcount > 0


def find_access_key(db: Database, access_key: str) -> AccessKey | None:
    row = db.one(
        _PRINCIPAL_COLUMNS + ", access_keys.secret_enc"
        " FROM access_keys JOIN users ON users.id = access_keys.user_id"
        " JOIN domains ON domains.id = users.domain_id"
        " WHERE access_keys.access_key = ? AND access_keys.revoked IS NULL",
        (access_key,),
    )
    return None if row is None else AccessKey(_principal(row), bytes(row["secret_enc"]))


def bootstrap(
    db: Database, data_dir: Path, clock: Clock, *, account: str, user: str, token: str | None
) -> str:
    """Make sure the default account, its admin user and the admin token exist; return the token.

    A token given by configuration is registered as is and never written to disk. Otherwise the
    token generated on first start is kept in `<data dir>/admin-token` (mode 0600) and reused.
    """
    with db.transaction():
        if not db.one("SELECT 1 FROM domains WHERE name = ?", (account,)):
            create_account(db, account, clock)
        try:
            user_id = find_user_id(db, account, user)
        except IdentityError:
            user_id = create_user(db, account, user, clock, is_admin=True)

        token_file = data_dir / ADMIN_TOKEN_FILE
        generated = False
        if token is None and token_file.exists():
            token = token_file.read_text().strip()
        if token is None:
            token = create_token(db, user_id, clock)
            generated = True
        elif principal_for_token(db, token) is None:
            if db.one("SELECT 1 FROM api_tokens WHERE token_hash = ?", (hash_token(token),)):
                raise IdentityError("the configured admin token was revoked")
            add_token(db, user_id, token, clock)

    if generated:
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
    return token
