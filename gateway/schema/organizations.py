"""Organizations (SWR namespaces): type, queries and mutations."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from gateway.backend.models import NamespaceJson, Page
from gateway.loaders import ALL
from gateway.schema.errors import check_namespace
from gateway.schema.node import load_or_none
from gateway.schema.pagination import NODES_DOC, build_connection
from gateway.schema.scalars import Long
from gateway.schema.types import Info

if TYPE_CHECKING:
    from gateway.schema.accounts import OrganizationPermissions
    from gateway.schema.repositories import (
        RepositoryConnection,
        RepositoryFilter,
        RepositoryOrder,
    )

_Repos = Annotated["RepositoryConnection", strawberry.lazy("gateway.schema.repositories")]
_Filter = Annotated["RepositoryFilter", strawberry.lazy("gateway.schema.repositories")]
_Order = Annotated["RepositoryOrder", strawberry.lazy("gateway.schema.repositories")]
_Permissions = Annotated["OrganizationPermissions", strawberry.lazy("gateway.schema.accounts")]


@strawberry.enum(description="The caller's permission (the backend's `auth`: 7, 3, 1, 0).")
class Permission(Enum):
    MANAGE = 7
    EDIT = 3
    READ = 1
    NONE = 0


_PERMISSIONS = {p.value: p for p in Permission}


@strawberry.type(description="An organization (SWR namespace): the first part of image paths.")
class Organization(relay.Node):
    key: relay.NodeID[str]
    name: str
    database_id: Long | None = strawberry.field(description="The backend's numeric id.")
    creator_name: str | None
    permission: Permission = strawberry.field(description="What the caller may do here.")

    @classmethod
    def from_json(cls, data: NamespaceJson) -> Organization:
        return cls(
            key=data["name"], name=data["name"], database_id=data.get("id"),
            creator_name=data.get("creator_name"),
            permission=_PERMISSIONS.get(data.get("auth", 0), Permission.NONE),
        )

    @strawberry.field(description="Repositories of this organization (`filter.namespace` is "
                      "replaced by this organization's name).")
    async def repositories(
        self, info: Info, filter: _Filter | None = None, order_by: _Order | None = None,
        first: int | None = None, after: str | None = None,
    ) -> _Repos:
        from gateway.schema.repositories import load_repositories

        return await load_repositories(info, self.name, filter, order_by, first, after)

    @strawberry.field(description="Who holds which permission here (needs read on it).")
    async def permissions(self, info: Info) -> _Permissions:
        from gateway.schema.accounts import load_permissions

        return await load_permissions(info, self.name)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Organization | None]:
        loader = info.context.loaders.organization_by_name
        return [await organization_or_none(loader, key, required) for key in node_ids]


async def organization_or_none(loader: Any, name: str, required: bool) -> Organization | None:
    data = await load_or_none(loader.load(check_namespace(name)), required)
    return None if data is None else Organization.from_json(data)


@strawberry.type
class OrganizationConnection(relay.Connection[Organization]):
    nodes: list[Organization] = strawberry.field(description=NODES_DOC)
    total_count: int = strawberry.field(description="Organizations in all pages.")


@strawberry.type
class OrganizationQueries:
    @strawberry.field(description="Organizations the caller holds a permission on.")
    async def organizations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> OrganizationConnection:
        from gateway.schema.pagination import page_window

        offset, limit = page_window(first, after)
        items = await info.context.loaders.organizations.load(ALL)
        prime(info, items)
        page = Page(items=list(items[offset:offset + limit]), offset=offset, total=len(items))
        return build_connection(OrganizationConnection, page, limit, Organization.from_json)

    @strawberry.field(description="One organization by name; null when it does not exist.")
    async def organization(self, info: Info, name: str) -> Organization | None:
        return await organization_or_none(info.context.loaders.organization_by_name, name, False)


def prime(info: Info, items: list[NamespaceJson]) -> None:
    """The list and the show call return the same fields, so the list answers later shows."""
    loader = info.context.loaders.organization_by_name
    for item in items:
        loader.prime(item["name"], item)


@strawberry.input
class CreateOrganizationInput:
    name: str


@strawberry.type
class OrganizationMutations:
    @strawberry.mutation(description="Create an organization; CONFLICT if the name is taken.")
    async def create_organization(self, info: Info, input: CreateOrganizationInput
                                  ) -> Organization:
        context = info.context
        await context.client.create_namespace(context.caller, check_namespace(input.name))
        context.loaders.forget()
        return Organization.from_json(await context.loaders.organization_by_name.load(input.name))

    @strawberry.mutation(description="Delete an empty organization; returns its global id.")
    async def delete_organization(self, info: Info, name: str) -> relay.GlobalID:
        context = info.context
        await context.client.delete_namespace(context.caller, check_namespace(name))
        context.loaders.forget()
        return relay.GlobalID("Organization", name)
