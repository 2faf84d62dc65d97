"""Manage API calls of accounts, shares, permissions, official images, the accelerator and
software packages: contract sections 5, 6, 10.1, 10.2, the SDK's namespace access calls, and
`GET /v2/manage/users/self` (docs/manage-api.md).

Plain functions over `BackendClient.call` / `call_page`, so every call still passes the one
error boundary, the semaphores, the metrics and the log line of `gateway.backend.client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from gateway.backend.client import BackendClient, Caller, repo_segment, segment
from gateway.backend.models import Json, Page

_NS = "/v2/manage/namespaces/{namespace}"
_SHARES = _NS + "/repositories/{repository}/access-domains"
_SHARE = _SHARES + "/{access_domain}"
_ACCESS = _NS + "/access"
_OFFICIAL = "/v2/manage/dockerhub/namespaces/{namespace}/repos/{repository}"
_PACKAGE = _NS + "/packages/{package}/versions"
FILE_ROUTE = _PACKAGE + "/{version}/file_paths/{folder}/{filename}"


def _ns(namespace: str) -> str:
    return f"/v2/manage/namespaces/{segment(namespace)}"


def _params(**values: object) -> str:
    return urlencode({k: v for k, v in values.items() if v is not None})


# -- who am I -------------------------------------------------------------------------------


async def get_self(client: BackendClient, caller: Caller) -> Json:
    route = "/v2/manage/users/self"
    return cast(Json, await client.call(caller, "GET", route, route))


# -- shares (section 5) ---------------------------------------------------------------------


def _shares_path(namespace: str, repository: str) -> str:
    return f"{_ns(namespace)}/repositories/{repo_segment(repository)}/access-domains"


def _share_path(namespace: str, repository: str, account: str) -> str:
    return f"{_shares_path(namespace, repository)}/{segment(account)}"


async def list_shares(client: BackendClient, caller: Caller, namespace: str, repository: str
                      ) -> list[Json]:
    path = _shares_path(namespace, repository)
    return cast(list[Json], await client.call(caller, "GET", _SHARES, path))


async def get_share(client: BackendClient, caller: Caller, namespace: str, repository: str,
                    account: str) -> Json:
    """The share record with `exist`; `{"exist": false}` when there is none (5.4)."""
    path = _share_path(namespace, repository, account)
    return cast(Json, await client.call(caller, "GET", _SHARE, path))


async def create_share(client: BackendClient, caller: Caller, namespace: str, repository: str,
                       body: Json) -> None:
    path = _shares_path(namespace, repository)
    await client.call(caller, "POST", _SHARES, path, body=body)


async def update_share(client: BackendClient, caller: Caller, namespace: str, repository: str,
                       account: str, body: Json) -> None:
    path = _share_path(namespace, repository, account)
    await client.call(caller, "PATCH", _SHARE, path, body=body)


async def delete_share(client: BackendClient, caller: Caller, namespace: str, repository: str,
                       account: str) -> None:
    path = _share_path(namespace, repository, account)
    await client.call(caller, "DELETE", _SHARE, path)


@dataclass(frozen=True, slots=True)
class SharedQuery:
    """Criteria of `GET /v2/manage/shared-repositories` (6); hashable, a loader key."""

    center: str
    namespace: str | None = None
    name: str | None = None
    domain_name: str | None = None
    status: bool | None = None
    order_column: str | None = None
    order_type: str | None = None
    offset: int = 0
    limit: int = 100


async def list_shared_repositories(client: BackendClient, caller: Caller, query: SharedQuery
                                   ) -> Page:
    status = None if query.status is None else ("true" if query.status else "false")
    params = _params(
        center=query.center, namespace=query.namespace,
        name=query.name and query.name.replace("/", "$"), domain_name=query.domain_name,
        status=status, order_column=query.order_column, order_type=query.order_type,
        offset=query.offset, limit=query.limit,
    )
    route = "/v2/manage/shared-repositories"
    return await client.call_page(caller, route, route, params, query.offset)


# -- organization permissions (SDK `*NamespaceAuth`) ---------------------------------------


async def get_permissions(client: BackendClient, caller: Caller, namespace: str) -> Json:
    path = f"{_ns(namespace)}/access"
    return cast(Json, await client.call(caller, "GET", _ACCESS, path))


async def change_permissions(client: BackendClient, caller: Caller, method: str,
                             namespace: str, body: list[Any]) -> None:
    """POST (grant), PATCH (change) or DELETE (revoke, a list of user ids)."""
    await client.call(caller, method, _ACCESS, f"{_ns(namespace)}/access", body=body)


# -- official images and the accelerator (10.1) --------------------------------------------


@dataclass(frozen=True, slots=True)
class OfficialQuery:
    namespace: str | None = None
    image_name: str | None = None
    offset: int = 0
    limit: int = 100


async def list_official(client: BackendClient, caller: Caller, query: OfficialQuery) -> Page:
    params = _params(namespace=query.namespace,
                     image_name=query.image_name and query.image_name.replace("/", "$"),
                     offset=query.offset, limit=query.limit)
    route = "/v2/manage/dockerhub/repos"
    return await client.call_page(caller, route, route, params, query.offset)


def _official_path(namespace: str, name: str) -> str:
    return f"/v2/manage/dockerhub/namespaces/{segment(namespace)}/repos/{repo_segment(name)}"


async def get_official(client: BackendClient, caller: Caller, namespace: str, name: str
                       ) -> Json:
    path = _official_path(namespace, name)
    return cast(Json, await client.call(caller, "GET", _OFFICIAL, path))


async def list_official_tags(client: BackendClient, caller: Caller, namespace: str, name: str,
                             offset: int, limit: int) -> Page:
    path = _official_path(namespace, name) + "/tags"
    params = _params(offset=offset, limit=limit)
    return await client.call_page(caller, _OFFICIAL + "/tags", path, params, offset)


async def get_accelerators(client: BackendClient, caller: Caller, domain_id: str) -> Json:
    route = "/v2/manage/domain/{domain_id}/accelerators"
    path = f"/v2/manage/domain/{segment(domain_id)}/accelerators"
    return cast(Json, await client.call(caller, "GET", route, path))


async def get_mirror_overview(client: BackendClient, caller: Caller) -> Json:
    route = "/v2/manage/mirror/images/overview"
    return cast(Json, await client.call(caller, "GET", route, route + "?source=DockerHub"))


# -- software packages (10.2) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageQuery:
    namespace: str | None = None
    package_name: str | None = None
    offset: int = 0
    limit: int = 100


async def list_packages(client: BackendClient, caller: Caller, query: PackageQuery) -> Page:
    params = _params(namespace=query.namespace,
                     package_name=query.package_name and query.package_name.replace("/", "$"),
                     offset=query.offset, limit=query.limit)
    route = "/v2/manage/packages"
    return await client.call_page(caller, route, route, params, query.offset)


def package_path(namespace: str, package: str) -> str:
    return f"{_ns(namespace)}/packages/{repo_segment(package)}/versions"


async def list_package_versions(client: BackendClient, caller: Caller, namespace: str,
                                package: str) -> list[Json]:
    path = package_path(namespace, package)
    return cast(list[Json], await client.call(caller, "GET", _PACKAGE, path))


async def list_package_files(client: BackendClient, caller: Caller, namespace: str,
                             package: str, version: str) -> list[Json]:
    path = f"{package_path(namespace, package)}/{segment(version)}/file_paths"
    route = _PACKAGE + "/{version}/file_paths"
    return cast(list[Json], await client.call(caller, "GET", route, path))


def file_path(namespace: str, package: str, version: str, folder: str, filename: str) -> str:
    """The backend download path; the folder is one segment by the `$` rule (`/` is `$`)."""
    return (f"{package_path(namespace, package)}/{segment(version)}/file_paths/"
            f"{repo_segment(folder) or '$'}/{segment(filename)}")
