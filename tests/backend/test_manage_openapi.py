"""The OpenAPI document of the Manage API: valid, complete, and true to the real responses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from swrlocal.manage.routes import routes
from tests.backend.support import admin_fixture  # noqa: F401  (a fixture, registered by import)
from tests.conftest import BackendServer

# The modules whose operations the document covers (shares and permissions are served by
# other modules of the package and not described here yet).
DOCUMENTED_MODULES = {
    f"swrlocal.manage.{name}" for name in ("versions", "namespaces", "repositories", "tags")
}


@pytest.fixture(scope="module")
def spec(backend: BackendServer) -> dict[str, Any]:
    response = httpx.get(f"{backend.url}/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def properties(spec: dict[str, Any], schema: str) -> set[str]:
    return set(spec["components"]["schemas"][schema]["properties"])


def test_document_is_valid_openapi(spec: dict[str, Any], backend: BackendServer) -> None:
    validate(spec)
    assert spec["openapi"] == "3.0.3"
    assert spec["servers"] == [{"url": backend.url}]
    assert spec["components"]["securitySchemes"]["XAuthToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Auth-Token",
    }


def test_every_route_is_documented(spec: dict[str, Any]) -> None:
    documented = {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item if method != "parameters"
    }
    served = {
        (route.path.replace("{api_version:api_version}", "{api_version}"), method)
        for route in routes
        if getattr(route, "endpoint", None).__module__ in DOCUMENTED_MODULES
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    assert documented == served


def test_operation_ids(spec: dict[str, Any]) -> None:
    ids = {op["operationId"] for item in spec["paths"].values()
           for key, op in item.items() if key != "parameters"}
    assert ids == {
        "ListApiVersions", "ShowApiVersion", "CreateNamespace", "ListNamespaces",
        "ShowNamespace", "DeleteNamespaces", "CreateRepo", "ListReposDetails", "ShowRepository",
        "UpdateRepo", "DeleteRepo", "ListRepositoryTags", "CreateRepoTag", "ShowRepoTag",
        "DeleteRepoTag",
    }


def test_links(spec: dict[str, Any]) -> None:
    namespace = spec["paths"]["/v2/manage/namespaces/{namespace}"]["get"]
    repos = spec["paths"]["/v2/manage/repos"]["get"]
    link = namespace["responses"]["200"]["links"]["ReposOfNamespace"]
    assert link["operationId"] == "ListReposDetails"
    assert link["parameters"] == {"namespace": "$response.body#/name"}
    tags = repos["responses"]["200"]["links"]["TagsOfRepository"]
    assert tags["operationId"] == "ListRepositoryTags"


def test_schemas_match_responses(
    spec: dict[str, Any], admin: httpx.Client, backend: BackendServer
) -> None:
    org = f"oa-{uuid.uuid4().hex[:10]}"
    assert admin.post("/v2/manage/namespaces", json={"namespace": org}).status_code == 201
    body = {"repository": "app", "is_public": True}
    assert admin.post(f"/v2/manage/namespaces/{org}/repos", json=body).status_code == 200

    namespace = admin.get(f"/v2/manage/namespaces/{org}").json()
    repo = admin.get(f"/v2/manage/namespaces/{org}/repos/app").json()
    [item] = admin.get("/v2/manage/repos", params={"namespace": org}).json()
    version = admin.get("/v2").json()["version"]
    error = admin.get(f"/v2/manage/namespaces/{org}x").json()

    assert set(namespace) == properties(spec, "ShowNamespace")
    assert set(repo) == properties(spec, "ShowRepositoryResponse")
    assert set(item) == properties(spec, "ShowReposResp")
    assert set(version) == properties(spec, "VersionDetail")
    assert set(error) == properties(spec, "ErrorResponse")
    assert "Tag" in properties(spec, "ShowReposTagResp")
    assert "tag" in properties(spec, "ShowRepoTagResponse")
    assert properties(spec, "ShowReposTagResp") - properties(spec, "ShowRepoTagResponse") == {
        "Tag", "deleted", "scanned",
    }
