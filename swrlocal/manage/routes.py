"""Routes of the Manage API. Mounted before the registry, whose paths also start with `/v2`."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute, Route

from swrlocal.manage import (
    namespaces,
    permissions,
    repositories,
    sharing,
    tags,
    users,
    versions,
)


class APIVersionConvertor(Convertor[str]):
    """Matches `v<digits>` only, so `/{api_version}` leaves other one-segment paths alone."""

    regex = "v[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("api_version", APIVersionConvertor())

NS = "/v2/manage/namespaces/{namespace}"
REPO = NS + "/repos/{repository}"

routes: list[BaseRoute] = [
    Route("/", versions.list_versions, methods=["GET"]),
    Route("/{api_version:api_version}", versions.show_version, methods=["GET"]),
    Route("/v2/manage/namespaces", namespaces.list_namespaces, methods=["GET"]),
    Route("/v2/manage/namespaces", namespaces.create_namespace, methods=["POST"]),
    Route(NS, namespaces.show_namespace, methods=["GET"]),
    Route(NS, namespaces.delete_namespace, methods=["DELETE"]),
    Route(NS + "/repos", repositories.create_repository, methods=["POST"]),
    Route("/v2/manage/repos", repositories.list_repositories, methods=["GET"]),
    Route(REPO, repositories.show_repository, methods=["GET"]),
    Route(REPO, repositories.update_repository, methods=["PATCH"]),
    Route(REPO, repositories.delete_repository, methods=["DELETE"]),
    Route(REPO + "/tags", tags.list_tags, methods=["GET"]),
    Route(REPO + "/tags", tags.create_tag, methods=["POST"]),
    Route(REPO + "/tags/{tag}", tags.show_tag, methods=["GET"]),
    Route(REPO + "/tags/{tag}", tags.delete_tag, methods=["DELETE"]),
    *permissions.routes,  # organization permissions (accounts helper)
    *sharing.routes,  # shares with other accounts (accounts helper)
    *users.routes,  # who the caller is (gateway `viewer`)
]
