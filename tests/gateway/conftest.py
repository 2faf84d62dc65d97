"""Gateway fixtures: the app in-process (ASGI inbound), real HTTP to the embedded backend."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import BackendServer, free_port


def unique(prefix: str = "gw") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class Gateway:
    """A gateway app driven through httpx's ASGI transport, with GraphQL helpers."""

    def __init__(self, client: httpx.AsyncClient, token: str | None) -> None:
        self.client = client
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None | bool = True) -> dict[str, Any]:
        headers = {}
        use = self.token if token is True else token
        if use:
            headers["Authorization"] = f"Bearer {use}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert "errors" not in body, body["errors"]
        return dict(body["data"])

    async def backend_calls(self) -> int:
        """Sum of `gateway_backend_calls_total` from this gateway's /metrics."""
        text = (await self.client.get("/metrics")).text
        return sum(
            int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
            if line.startswith("gateway_backend_calls_total{")
        )


async def open_gateway(backend_url: str, token: str | None, **settings: Any
                       ) -> AsyncIterator[Gateway]:
    app = create_app(Settings(backend_url=backend_url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(client, token)


@pytest.fixture
async def gateway(backend: BackendServer) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(backend.url, backend.admin_token):
        yield gw


@pytest.fixture
async def dead_gateway() -> AsyncIterator[Gateway]:
    """A gateway whose backend port has nothing listening."""
    async for gw in open_gateway(f"http://127.0.0.1:{free_port()}", "some-token"):
        yield gw


@pytest.fixture(scope="session")
def image_layout(tmp_path_factory: pytest.TempPathFactory, make_test_image: Path) -> Path:
    layout = tmp_path_factory.mktemp("gateway-images") / "layout"
    subprocess.run([str(make_test_image), str(layout), "v1"], check=True, capture_output=True)
    return layout


@pytest.fixture(scope="session")
def push_image(
    skopeo: str, backend: BackendServer, image_layout: Path
) -> Callable[[str], None]:
    """Push the test image to `<org>/<repo>:<tag>` on the backend's registry."""

    def push(target: str) -> None:
        result = subprocess.run(
            [skopeo, "copy", "--dest-tls-verify=false",
             "--dest-creds", f"admin:{backend.admin_token}",
             f"oci:{image_layout}:v1", f"docker://{backend.host}/{target}"],
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr

    return push


@pytest.fixture(scope="session")
def catalog(backend: BackendServer, push_image: Callable[[str], None]) -> dict[str, str]:
    """Two organizations with repositories and tags made through the real registry.

    `<a>`: `app` (tags v1, v2, v3), `team/tool` (v1), `empty` (none); `<b>`: `web` (v1).
    """
    a, b = unique("cat"), unique("cat")
    admin = httpx.Client(
        base_url=backend.url, headers={"X-Auth-Token": backend.admin_token}, timeout=30
    )
    with admin:
        for org in (a, b):
            assert admin.post("/v2/manage/namespaces", json={"namespace": org}).status_code == 201
        body = {"repository": "empty", "is_public": False}
        assert admin.post(f"/v2/manage/namespaces/{a}/repos", json=body).status_code == 200
        for target in (f"{a}/app:v1", f"{a}/team/tool:v1", f"{b}/web:v1"):
            push_image(target)
        for tag in ("v2", "v3"):
            copy = {"source_tag": "v1", "destination_tag": tag}
            response = admin.post(f"/v2/manage/namespaces/{a}/repos/app/tags", json=copy)
            assert response.status_code == 201, response.text
    return {"a": a, "b": b}
