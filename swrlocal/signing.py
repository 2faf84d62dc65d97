"""AK/SK request signing as the official Huawei Cloud SDKs do it (`SDK-HMAC-SHA256`).

A signed request carries `X-Sdk-Date: 20240101T120000Z` and
`Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>`, where the
signature is the hex HMAC-SHA256, keyed with the secret key, of

    SDK-HMAC-SHA256 \\n <X-Sdk-Date> \\n hex(sha256(canonical request))

and the canonical request is six lines: the upper-case method; the path, percent-decoded, split
on `/`, each segment percent-encoded with only unreserved characters kept, ending in `/`; the
query pairs sorted and encoded the same way, joined by `&`; one `name:value` line per signed
header (lower-case name, trimmed value); the signed header names joined by `;`; and the hex
SHA-256 of the body (or the value of `X-Sdk-Content-Sha256` when that says `UNSIGNED-PAYLOAD`).

Handlers authenticate synchronously, so `BodyHashMiddleware` reads a signed request's body
first, records its hash in the ASGI scope and replays the body to the application.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

from cryptography.fernet import Fernet, InvalidToken
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Headers a signature must cover: without the date a signature could be replayed forever, and
# without the host it could be replayed against another server sharing the keys.
REQUIRED_SIGNED_HEADERS = ("host", DATE_HEADER)
MAX_CLOCK_SKEW = timedelta(minutes=15)
# Signed bodies are buffered to be hashed before the handler runs; Manage API bodies are small.
MAX_SIGNED_BODY = 8 * 1024 * 1024
BODY_HASH_SCOPE_KEY = "swrlocal.body_sha256"
ENCRYPTION_KEY_FILE = "access-key-encryption-key"

_AUTHORIZATION_RE = re.compile(
    r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)"
)


class SigningError(Exception):
    """A signed request that does not verify; the message says why, never a secret."""


@dataclass(frozen=True)
class SignatureHeader:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers, as the server received it."""

    method: str
    path: str  # percent-decoded, as in the ASGI scope
    query_string: str
    headers: Mapping[str, str]  # lower-case names
    body_sha256: str | None  # None when the body was too large to hash


def is_signed(authorization: str) -> bool:
    return authorization.lstrip().startswith(ALGORITHM + " ")


def parse_authorization(value: str) -> SignatureHeader | None:
    match = _AUTHORIZATION_RE.fullmatch(value.strip())
    if match is None:
        return None
    signed = tuple(match.group(2).split(";"))
    return SignatureHeader(match.group(1), signed, match.group(3).lower())


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query_string: str) -> str:
    pairs = sorted(parse_qsl(query_string, keep_blank_values=True))
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in pairs)


def canonical_request(
    request: SignedRequest, signed_headers: Sequence[str], payload_hash: str
) -> str:
    headers = "".join(
        f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed_headers
    )
    return "\n".join([
        request.method.upper(),
        canonical_uri(request.path),
        canonical_query(request.query_string),
        headers,
        ";".join(signed_headers),
        payload_hash,
    ])


def string_to_sign(canonical: str, date: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def signature(secret_key: str, request: SignedRequest, signed_headers: Sequence[str]) -> str:
    payload_hash = _payload_hash(request)
    canonical = canonical_request(request, signed_headers, payload_hash or "")
    text = string_to_sign(canonical, request.headers.get(DATE_HEADER, ""))
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()


def authorization_value(
    access_key: str, secret_key: str, request: SignedRequest, signed_headers: Sequence[str]
) -> str:
    """The `Authorization` value a client sends; the server uses `verify`."""
    names = sorted(name.lower() for name in signed_headers)
    value = signature(secret_key, request, names)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={value}"


def _payload_hash(request: SignedRequest) -> str | None:
    # The SDK leaves non-JSON bodies unsigned and says so in this header, itself signed.
    if request.headers.get(CONTENT_HASH_HEADER, "").strip() == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    return request.body_sha256


def request_date(request: SignedRequest) -> datetime:
    raw = request.headers.get(DATE_HEADER, "").strip()
    try:
        return datetime.strptime(raw, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SigningError(f"X-Sdk-Date must look like 20240101T120000Z, got {raw!r}") from None


def verify(
    request: SignedRequest, header: SignatureHeader, secret_key: str, now: datetime
) -> None:
    """Raise `SigningError` unless `header` is a valid, current signature of `request`."""
    signed = header.signed_headers
    if list(signed) != sorted(set(signed)) or any(name != name.lower() for name in signed):
        raise SigningError("SignedHeaders must be lower-case, sorted and distinct")
    for name in REQUIRED_SIGNED_HEADERS:
        if name not in signed:
            raise SigningError(f"the signature must cover the {name} header")
    if CONTENT_HASH_HEADER in request.headers and CONTENT_HASH_HEADER not in signed:
        raise SigningError("the signature must cover X-Sdk-Content-Sha256")
    if abs(now - request_date(request)) > MAX_CLOCK_SKEW:
        raise SigningError("X-Sdk-Date is too far from the server's time")
    if _payload_hash(request) is None:
        raise SigningError("the signed body is too large")

    expected = signature(secret_key, request, signed)
    if not hmac.compare_digest(expected.encode(), header.signature.encode()):
        raise SigningError("the signature does not match")


# ------------------------------------------------------------------------- secrets at rest


class SecretBox:
    """Encrypts secret keys with a key kept in the data directory (Fernet: AES-CBC + HMAC)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> SecretBox:
        return _box(data_dir.resolve())

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise SigningError("the stored secret key cannot be decrypted") from None


@lru_cache(maxsize=8)
def _box(data_dir: Path) -> SecretBox:
    return SecretBox(load_encryption_key(data_dir))


def load_encryption_key(data_dir: Path) -> bytes:
    """The key file, created 0600 on first use; the server and admin commands race safely."""
    path = data_dir / ENCRYPTION_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


# ------------------------------------------------------------------------- body hashing


class BodyHashMiddleware:
    """Hashes the body of each signed request before the application sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_signed(_authorization(scope)):
            await self.app(scope, receive, send)
            return

        buffered, complete = await _read_body(receive)
        body = b"".join(message.get("body", b"") for message in buffered)
        scope[BODY_HASH_SCOPE_KEY] = hashlib.sha256(body).hexdigest() if complete else None

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


def _authorization(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            return str(value.decode("latin-1"))
    return ""


async def _read_body(receive: Receive) -> tuple[list[Message], bool]:
    """The body messages read, and whether they are the whole body within the limit."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > MAX_SIGNED_BODY:
            return messages, False
        if not message.get("more_body", False):
            return messages, True
