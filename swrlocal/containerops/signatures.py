"""Signed webhook calls: HMAC over a timestamp, the query and the body, each accepted once.

`X-SWR-Signature-Timestamp: <Unix seconds>` and
`X-SWR-Signature-256: sha256=<hex HMAC-SHA256(secret, timestamp "\\n" raw query "\\n" body)>`.
A timestamp more than `WINDOW_SECONDS` away from the backend's clock is refused, and so is a
signature already accepted for the same webhook: it is remembered until its timestamp leaves the
window, after which the timestamp check refuses it anyway.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from swrlocal.containerops import codes
from swrlocal.db import Database
from swrlocal.errors import SWRError

SIGNATURE_HEADER = "x-swr-signature-256"
TIMESTAMP_HEADER = "x-swr-signature-timestamp"
WINDOW_SECONDS = 300


def expected_signature(secret: str, timestamp: str, query: bytes, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + query + b"\n" + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _headers(request: Request) -> tuple[str, str]:
    sent = request.headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not sent or not timestamp:
        raise SWRError(
            401, codes.NO_SIGNATURE,
            f"this webhook needs {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers",
        )
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SWRError(401, codes.STALE_SIGNATURE, f"{TIMESTAMP_HEADER} must be Unix seconds")
    return sent, timestamp


def verify(request: Request, secret: str, body: bytes, now: int) -> tuple[str, int]:
    """Check a signed call; return its signature and timestamp, for `remember`."""
    sent, timestamp = _headers(request)
    query = request.scope.get("query_string", b"")
    expected = expected_signature(secret, timestamp, query, body)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise SWRError(403, codes.BAD_SIGNATURE, "the webhook signature does not match")
    if abs(now - int(timestamp)) > WINDOW_SECONDS:
        raise SWRError(
            401, codes.STALE_SIGNATURE,
            f"the signature timestamp is more than {WINDOW_SECONDS} s from the server's clock",
        )
    return expected, int(timestamp)


def remember(db: Database, webhook_id: str, signed: tuple[str, int], now: int) -> str:
    """Record an accepted signature; refuse one already recorded. Returns its digest."""
    signature, timestamp = signed
    digest = hashlib.sha256(f"{webhook_id}\n{signature}".encode()).hexdigest()
    with db.transaction():
        db.execute("DELETE FROM webhook_signatures WHERE expires < ?", (now,))
        added = db.execute(
            "INSERT INTO webhook_signatures (digest, expires) VALUES (?, ?)"
            " ON CONFLICT (digest) DO NOTHING",
            (digest, timestamp + WINDOW_SECONDS),  # past this, the timestamp check refuses it
        ).rowcount
    if not added:
        raise SWRError(403, codes.REPLAYED_SIGNATURE, "this signed request was already received")
    return digest


def forget(db: Database, digest: str) -> None:
    """Drop a recorded signature whose call started nothing, so the sender may retry it."""
    db.execute("DELETE FROM webhook_signatures WHERE digest = ?", (digest,))
