"""A client for an upstream registry's read API: manifests, blobs and tag lists.

It answers the upstream's auth challenge the way Docker clients do: a `Bearer` challenge is met
by fetching a token from the realm (with Basic credentials when the upstream URL carries
`user:password@`), a `Basic` challenge by sending those credentials. Every manifest and blob is
checked against its digest before anyone sees it; a blob lands in the registry's blob store only
through `BlobStore.fetch`, which verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from swrlocal.registry import errors as oci
from swrlocal.registry.blobstore import BlobStore, Landed
from swrlocal.registry.manifests import MANIFEST_TYPES, MAX_MANIFEST_BYTES
from swrlocal.registry.names import is_digest

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
ACCEPT = ", ".join(MANIFEST_TYPES)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
LOOPBACK_HOSTS = ("127.", "localhost", "[::1]")


class UpstreamError(Exception):
    """The upstream gave an answer the mirror cannot use."""


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached or failed (5xx, 429): cached content may stand in."""


class UpstreamNotFound(UpstreamError):
    """The upstream says the manifest, blob or repository does not exist."""


class UpstreamDenied(UpstreamError):
    """The upstream refused the mirror's credentials."""


class DigestMismatch(UpstreamError):
    """The upstream's bytes do not match their digest: refused, nothing is cached."""


@dataclass(frozen=True)
class FetchedManifest:
    media_type: str
    content: bytes
    digest: str


def base_url_for(host: str) -> str:
    """`https://host`, but plain HTTP for loopback hosts (test registries, local mirrors)."""
    scheme = "http" if host.startswith(LOOPBACK_HOSTS) else "https"
    return f"{scheme}://{host}"


def _basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sha256_digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _media_type(response: httpx.Response, content: bytes) -> str:
    header = str(response.headers.get("content-type", "")).split(";")[0].strip()
    if header in MANIFEST_TYPES:
        return header
    # Some registries answer `application/json`; the document names its own type.
    match = re.search(rb'"mediaType"\s*:\s*"([^"]+)"', content[:4096])
    return match.group(1).decode() if match else header


class Upstream:
    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        self.url = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self.credentials = (parts.username or "", parts.password or "") if parts.username else None
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        self.client = httpx.AsyncClient(
            base_url=self.url, timeout=timeout, follow_redirects=True, transport=transport
        )
        self._authorization: dict[str, str] = {}  # scope -> Authorization header value

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _send(self, method: str, path: str, scope: str, accept: str) -> httpx.Response:
        headers = {"Accept": accept} if accept else {}
        if scope in self._authorization:
            headers["Authorization"] = self._authorization[scope]
        request = self.client.build_request(method, path, headers=headers)
        try:
            return await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"upstream {self.url} unreachable: {exc}") from exc

    async def _open(self, method: str, path: str, scope: str, accept: str = "") -> httpx.Response:
        """Send a request, answering one auth challenge; the caller closes the response."""
        response = await self._send(method, path, scope, accept)
        if response.status_code != 401:
            return response
        await response.aclose()
        # A cached token may have expired: answer the fresh challenge, then try once more.
        challenge = response.headers.get("www-authenticate", "")
        self._authorization[scope] = await self._answer(challenge, scope)
        return await self._send(method, path, scope, accept)

    async def _answer(self, challenge: str, scope: str) -> str:
        kind, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if kind.lower() == "basic":
            if self.credentials is None:
                raise UpstreamDenied(f"upstream {self.url} wants credentials; none configured")
            return _basic_header(*self.credentials)
        if kind.lower() != "bearer" or "realm" not in params:
            raise UpstreamDenied(f"upstream {self.url} sent an unusable challenge {challenge!r}")
        query = {"scope": params.get("scope", scope)}
        if "service" in params:
            query["service"] = params["service"]
        auth = httpx.BasicAuth(*self.credentials) if self.credentials else None
        try:
            response = await self.client.get(params["realm"], params=query, auth=auth)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"token service of {self.url} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise UpstreamDenied(f"token service of {self.url} answered {response.status_code}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str):
            raise UpstreamDenied(f"token service of {self.url} sent no token")
        return f"Bearer {token}"

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status == 404:
            raise UpstreamNotFound(f"{what} not found upstream")
        if status in (401, 403):
            raise UpstreamDenied(f"upstream denied access to {what} ({status})")
        if status >= 500 or status == 429:
            raise UpstreamUnavailable(f"upstream failed on {what} ({status})")
        if status != 200:
            raise UpstreamError(f"upstream answered {status} for {what}")

    async def manifest(self, name: str, reference: str) -> FetchedManifest:
        scope = f"repository:{name}:pull"
        what = f"manifest {name}:{reference}"
        response = await self._open("GET", f"/v2/{name}/manifests/{reference}", scope, ACCEPT)
        try:
            self._check(response, what)
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > MAX_MANIFEST_BYTES:
                    raise UpstreamError(f"{what} is larger than {MAX_MANIFEST_BYTES} bytes")
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"upstream broke off {what}: {exc}") from exc
        finally:
            await response.aclose()
        body = bytes(content)
        digest = sha256_digest(body)
        claimed = response.headers.get("docker-content-digest", "")
        expected = reference if is_digest(reference) else claimed
        if expected.startswith("sha256:") and expected != digest:
            raise DigestMismatch(f"{what}: upstream bytes hash to {digest}, not {expected}")
        return FetchedManifest(_media_type(response, body), body, digest)

    async def blob(self, name: str, digest: str, store: BlobStore) -> Landed:
        """Fetch a blob into `store`, verified. Nothing lands on a mismatch."""
        scope = f"repository:{name}:pull"
        what = f"blob {digest} of {name}"
        response = await self._open("GET", f"/v2/{name}/blobs/{digest}", scope)
        try:
            self._check(response, what)
            return await store.fetch(response.aiter_bytes(), digest)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"upstream broke off {what}: {exc}") from exc
        except oci.OCIError as exc:
            raise DigestMismatch(f"{what}: upstream bytes do not match the digest") from exc
        finally:
            await response.aclose()

    async def tags(self, name: str, query: dict[str, str]) -> list[str]:
        scope = f"repository:{name}:pull"
        path = f"/v2/{name}/tags/list"
        if query:
            path += "?" + str(httpx.QueryParams(query))
        response = await self._open("GET", path, scope)
        try:
            self._check(response, f"tags of {name}")
            await response.aread()
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"upstream broke off the tags of {name}: {exc}") from exc
        finally:
            await response.aclose()
        tags = response.json().get("tags") or []
        return [tag for tag in tags if isinstance(tag, str)]
