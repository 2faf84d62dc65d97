"""OCI images in memory, OCI image layouts on disk, and a registry client (Docker token flow).

The runner pushes and pulls through the registry's public HTTP API, as any client would, so a
built image goes through the same checks (auth, quotas, manifest validation) as a `docker push`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((MT_MANIFEST, MT_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class RegistryError(Exception):
    """The registry refused or failed an operation; the message is shown in the step log."""


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass
class Image:
    config: Blob
    layers: list[Blob] = field(default_factory=list)

    def manifest(self) -> bytes:
        return canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "config": self.config.descriptor(),
                "layers": [layer.descriptor() for layer in self.layers],
            }
        )

    @property
    def digest(self) -> str:
        return digest_of(self.manifest())


def write_layout(image: Image, directory: Path, tag: str) -> str:
    """Write (or extend) an OCI image layout and tag the image in its index."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    manifest = image.manifest()
    for data in (image.config.data, *(layer.data for layer in image.layers), manifest):
        (blobs / digest_of(data).removeprefix("sha256:")).write_bytes(data)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index_path = directory / "index.json"
    index = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "manifests": []}
    )
    ref = "org.opencontainers.image.ref.name"
    index["manifests"] = [m for m in index["manifests"] if m.get("annotations", {}).get(ref) != tag]
    index["manifests"].append(
        {
            "mediaType": MT_MANIFEST,
            "digest": digest_of(manifest),
            "size": len(manifest),
            "annotations": {ref: tag},
        }
    )
    index_path.write_bytes(canonical_json(index))
    return digest_of(manifest)


def read_layout(directory: Path, tag: str) -> Image:
    """The single-platform image tagged `tag` in an OCI layout (e.g. written by buildah)."""
    index = json.loads((directory / "index.json").read_text())
    ref = "org.opencontainers.image.ref.name"
    found = [m for m in index["manifests"] if m.get("annotations", {}).get(ref) == tag]
    entry = found[0] if found else index["manifests"][0]

    def blob(digest: str) -> bytes:
        return (directory / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()

    manifest = json.loads(blob(entry["digest"]))
    config = Blob(MT_CONFIG, blob(manifest["config"]["digest"]))
    return Image(
        config,
        [Blob(_oci_layer_type(m["mediaType"]), blob(m["digest"])) for m in manifest["layers"]],
    )


def _oci_layer_type(media_type: str) -> str:
    # Docker's layer types carry the same bytes as their OCI counterparts
    if media_type.startswith("application/vnd.docker.image.rootfs.diff.tar"):
        return (
            MT_LAYER_GZ if media_type.endswith("gzip") else "application/vnd.oci.image.layer.v1.tar"
        )
    return media_type


def _parse_challenge(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "bearer":
        raise RegistryError(f"the registry asks for {scheme or 'no'} authentication, not Bearer")
    values = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        values[key.lower()] = value.strip('"')
    return values


class RegistryClient:
    """Push and pull through `/v2/` with a bearer token obtained for an SWR API token."""

    def __init__(self, base_url: str, api_token: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        self.client = client
        self._tokens: dict[str, str] = {}

    async def _bearer(self, repository: str, actions: str) -> dict[str, str]:
        scope = f"repository:{repository}:{actions}"
        if scope not in self._tokens:
            self._tokens[scope] = await self._fetch_token(scope)
        return {"Authorization": f"Bearer {self._tokens[scope]}"}

    async def _fetch_token(self, scope: str) -> str:
        ping = await self.client.get(self.base_url + "/v2/")
        if ping.status_code != 401:
            raise RegistryError(f"GET /v2/ answered {ping.status_code}, expected a 401 challenge")
        challenge = _parse_challenge(ping.headers.get("www-authenticate", ""))
        realm = challenge.get("realm", "")
        if urlsplit(realm).netloc != urlsplit(self.base_url).netloc:
            # never hand the API token to another host
            raise RegistryError(f"token realm {realm!r} is not on the registry's host")
        answer = await self.client.get(
            realm,
            params={"service": challenge.get("service", ""), "scope": scope},
            auth=("x", self.api_token),
        )
        if answer.status_code != 200:
            raise RegistryError(f"token request for {scope} answered {answer.status_code}")
        body = answer.json()
        return str(body.get("token") or body.get("access_token"))

    async def push(self, repository: str, tag: str, image: Image) -> str:
        headers = await self._bearer(repository, "pull,push")
        for blob in (image.config, *image.layers):
            await self._push_blob(repository, blob, headers)
        manifest = image.manifest()
        answer = await self.client.put(
            f"{self.base_url}/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={**headers, "Content-Type": MT_MANIFEST},
        )
        _expect(answer, (201,), f"PUT manifest {repository}:{tag}")
        return digest_of(manifest)

    async def _push_blob(self, repository: str, blob: Blob, headers: dict[str, str]) -> None:
        url = f"{self.base_url}/v2/{repository}/blobs/{blob.digest}"
        if (await self.client.head(url, headers=headers)).status_code == 200:
            return
        start = await self.client.post(
            f"{self.base_url}/v2/{repository}/blobs/uploads/", headers=headers
        )
        _expect(start, (202,), f"start upload to {repository}")
        location = start.headers["location"]
        if location.startswith("/"):
            location = self.base_url + location
        answer = await self.client.put(
            location,
            params={"digest": blob.digest},
            content=blob.data,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        _expect(answer, (201,), f"upload of {blob.digest}")

    async def resolve(self, repository: str, reference: str) -> str:
        headers = await self._bearer(repository, "pull")
        answer = await self.client.head(
            f"{self.base_url}/v2/{repository}/manifests/{reference}",
            headers={**headers, "Accept": MANIFEST_ACCEPT},
        )
        _expect(answer, (200,), f"resolve {repository}:{reference}")
        return answer.headers.get("docker-content-digest", "")

    async def pull(self, repository: str, reference: str, architecture: str) -> Image:
        headers = await self._bearer(repository, "pull")
        manifest = await self._manifest(repository, reference, headers)
        if manifest.get("manifests"):  # an index: take the server's platform, else the first
            chosen = next(
                (
                    m
                    for m in manifest["manifests"]
                    if m.get("platform", {}).get("architecture") == architecture
                ),
                manifest["manifests"][0],
            )
            manifest = await self._manifest(repository, chosen["digest"], headers)
        config = Blob(
            MT_CONFIG, await self._blob(repository, manifest["config"]["digest"], headers)
        )
        layers = [
            Blob(
                _oci_layer_type(m["mediaType"]), await self._blob(repository, m["digest"], headers)
            )
            for m in manifest["layers"]
        ]
        return Image(config, layers)

    async def _manifest(
        self, repository: str, reference: str, headers: dict[str, str]
    ) -> dict[str, Any]:
        answer = await self.client.get(
            f"{self.base_url}/v2/{repository}/manifests/{reference}",
            headers={**headers, "Accept": MANIFEST_ACCEPT},
        )
        _expect(answer, (200,), f"GET manifest {repository}:{reference}")
        return dict(answer.json())

    async def _blob(self, repository: str, digest: str, headers: dict[str, str]) -> bytes:
        answer = await self.client.get(
            f"{self.base_url}/v2/{repository}/blobs/{digest}",
            headers=headers,
            follow_redirects=True,
        )
        _expect(answer, (200,), f"GET blob {digest}")
        if digest_of(answer.content) != digest:
            raise RegistryError(f"blob {digest} arrived with other content")
        return answer.content


def _expect(answer: httpx.Response, statuses: tuple[int, ...], what: str) -> None:
    if answer.status_code not in statuses:
        raise RegistryError(f"{what}: registry answered {answer.status_code} {answer.text[:200]}")
