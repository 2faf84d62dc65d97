"""Image repositories: type, queries and mutations."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from gateway.backend.models import RepositoryJson, RepositoryQuery
from gateway.schema.errors import UserInputError, check_namespace, check_repository
from gateway.schema.node import load_or_none, repository_key, split_repository_key
from gateway.schema.organizations import Organization, organization_or_none
from gateway.schema.pagination import NODES_DOC, OrderDirection, build_connection, page_window
from gateway.schema.scalars import DateTime, Long
from gateway.schema.types import Info

if TYPE_CHECKING:
    from gateway.schema.sharing import RepositoryShare
    from gateway.schema.tags import TagConnection, TagFilter, TagOrder

_Tags = Annotated["TagConnection", strawberry.lazy("gateway.schema.tags")]
_TagFilter = Annotated["TagFilter", strawberry.lazy("gateway.schema.tags")]
_TagOrder = Annotated["TagOrder", strawberry.lazy("gateway.schema.tags")]
_Share = Annotated["RepositoryShare", strawberry.lazy("gateway.schema.sharing")]


@strawberry.enum(description="Repository categories of the contract (1.4).")
class RepositoryCategory(Enum):
    APP_SERVER = "app_server"
    LINUX = "linux"
    FRAMEWORK_APP = "framework_app"
    DATABASE = "database"
    LANG = "lang"
    OTHER = "other"
    WINDOWS = "windows"
    ARM = "arm"


@strawberry.type(description="An image repository: `<organization>/<name>` in image paths.")
class Repository(relay.Node):
    key: relay.NodeID[str]
    namespace: str = strawberry.field(description="Name of the owning organization.")
    name: str = strawberry.field(description="Repository name; may contain `/`.")
    database_id: Long | None = strawberry.field(description="The backend's numeric id.")
    category: str
    description: str
    size: Long = strawberry.field(description="Total size of all images, in bytes.")
    is_public: bool
    num_images: Long = strawberry.field(description="Number of tags.")
    num_downloads: Long
    path: str = strawberry.field(description="External pull address.")
    internal_path: str = strawberry.field(description="In-cluster pull address.")
    created_at: DateTime | None
    updated_at: DateTime | None
    creator_name: str | None = strawberry.field(description="Set when read one by one.")
    domain_id: str | None = strawberry.field(description="Owning account id (read one by one).")
    domain_name: str | None = strawberry.field(description="Owning account (in lists).")
    tag_names: list[str] | None = strawberry.field(description="Tag names (in lists).")

    @classmethod
    def from_json(cls, data: RepositoryJson, namespace: str | None = None) -> Repository:
        """Build from a show (3.4) or list item (3.5) body; they name some fields differently."""
        ns = namespace or data.get("namespace", "")
        get = data.get
        return cls(
            key=repository_key(ns, data["name"]), namespace=ns, name=data["name"],
            database_id=get("id"), category=get("category", ""),
            description=get("description", ""), size=get("size", 0),
            is_public=get("is_public", False), num_images=get("num_images", 0),
            num_downloads=get("num_download", 0), path=get("path", ""),
            internal_path=get("internal_path", ""),
            created_at=get("created_at") or get("created"),
            updated_at=get("updated_at") or get("updated"),
            creator_name=get("creator_name"), domain_id=get("domain_id"),
            domain_name=get("domain_name"), tag_names=get("tags"),
        )

    @strawberry.field(description="The organization holding this repository; null when the "
                      "caller may read the repository (public or shared) but not the organization.")
    async def organization(self, info: Info) -> Organization | None:
        loader = info.context.loaders.organization_by_name
        return await organization_or_none(loader, self.namespace, required=False)

    @strawberry.field(description="Tags (images) of this repository.")
    async def tags(
        self, info: Info, filter: _TagFilter | None = None, order_by: _TagOrder | None = None,
        first: int | None = None, after: str | None = None,
    ) -> _Tags:
        from gateway.schema.tags import load_tags

        return await load_tags(info, self.namespace, self.name, filter, order_by, first, after)

    @strawberry.field(description="Accounts this repository is shared with; members of its "
                      "organization only (FORBIDDEN for others).")
    async def shares(self, info: Info) -> list[_Share]:
        from gateway.schema.sharing import load_shares

        return await load_shares(info, self.namespace, self.name)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Repository | None]:
        return [
            await repository_or_none(info, *split_repository_key(key), required)
            for key in node_ids
        ]


async def repository_or_none(
    info: Info, namespace: str, name: str, required: bool
) -> Repository | None:
    key = (check_namespace(namespace), check_repository(name))
    data = await load_or_none(info.context.loaders.repository_by_name.load(key), required)
    return None if data is None else Repository.from_json(data, namespace)


@strawberry.type
class RepositoryConnection(relay.Connection[Repository]):
    nodes: list[Repository] = strawberry.field(description=NODES_DOC)
    total_count: int = strawberry.field(description="Matching repositories in all pages.")


@strawberry.input(description="Narrow a repository list; all given criteria must match.")
class RepositoryFilter:
    namespace: str | None = strawberry.field(
        default=None, description="Organization name (ignored under `Organization`)."
    )
    name: str | None = strawberry.field(default=None, description="Substring of the name.")
    category: RepositoryCategory | None = None
    is_public: bool | None = None


@strawberry.enum
class RepositoryOrderField(Enum):
    NAME = "name"
    UPDATED_AT = "updated_time"
    TAG_COUNT = "tag_count"
    NAMESPACE = "namespace"
    IS_PUBLIC = "is_public"


@strawberry.input
class RepositoryOrder:
    field: RepositoryOrderField
    direction: OrderDirection = OrderDirection.ASC


def repository_query(
    namespace: str | None, filter: RepositoryFilter | None, order_by: RepositoryOrder | None,
    offset: int, limit: int,
) -> RepositoryQuery:
    f = filter or RepositoryFilter()
    return RepositoryQuery(
        namespace=namespace, name=f.name, category=f.category.value if f.category else None,
        is_public=f.is_public, order_column=order_by.field.value if order_by else None,
        order_type=order_by.direction.value if order_by else None,
        offset=offset, limit=max(limit, 1),  # the backend refuses limit 0
    )


async def load_repositories(
    info: Info, namespace: str | None, filter: RepositoryFilter | None,
    order_by: RepositoryOrder | None, first: int | None, after: str | None,
) -> RepositoryConnection:
    if namespace is None and filter and filter.namespace:
        namespace = check_namespace(filter.namespace)
    offset, limit = page_window(first, after)
    query = repository_query(namespace, filter, order_by, offset, limit)
    page = await info.context.loaders.repository_page_by_query.load(query)
    return build_connection(RepositoryConnection, page, limit, Repository.from_json)


@strawberry.type
class RepositoryQueries:
    @strawberry.field(description="Repositories the caller can see, across organizations.")
    async def repositories(
        self, info: Info, filter: RepositoryFilter | None = None,
        order_by: RepositoryOrder | None = None, first: int | None = None,
        after: str | None = None,
    ) -> RepositoryConnection:
        return await load_repositories(info, None, filter, order_by, first, after)

    @strawberry.field(description="One repository; null when it (or its organization) is absent.")
    async def repository(self, info: Info, namespace: str, name: str) -> Repository | None:
        return await repository_or_none(info, namespace, name, False)


@strawberry.input
class CreateRepositoryInput:
    namespace: str
    name: str
    is_public: bool = False
    category: RepositoryCategory = RepositoryCategory.OTHER
    description: str = ""


@strawberry.input(description="Fields left out keep their value.")
class UpdateRepositoryInput:
    namespace: str
    name: str
    is_public: bool | None = None
    category: RepositoryCategory | None = None
    description: str | None = None


def update_body(current: RepositoryJson, input: UpdateRepositoryInput) -> dict[str, Any]:
    """PATCH needs `is_public` (3.3), so an absent value is taken from the current record."""
    body: dict[str, Any] = {
        "is_public": current.get("is_public", False) if input.is_public is None
        else input.is_public
    }
    if input.category is not None:
        body["category"] = input.category.value
    if input.description is not None:
        body["description"] = input.description
    return body


@strawberry.type
class RepositoryMutations:
    @strawberry.mutation(description="Create a repository; CONFLICT if it exists.")
    async def create_repository(self, info: Info, input: CreateRepositoryInput) -> Repository:
        ctx, ns, name = info.context, check_namespace(input.namespace), check_repository(input.name)
        body = {"repository": name, "is_public": input.is_public,
                "category": input.category.value, "description": input.description}
        await ctx.client.create_repository(ctx.caller, ns, body)
        return await _reload(info, ns, name)

    @strawberry.mutation(description="Change visibility, category or description.")
    async def update_repository(self, info: Info, input: UpdateRepositoryInput) -> Repository:
        ctx, ns, name = info.context, check_namespace(input.namespace), check_repository(input.name)
        current = await ctx.client.get_repository(ctx.caller, ns, name)
        await ctx.client.update_repository(ctx.caller, ns, name, update_body(current, input))
        return await _reload(info, ns, name)

    @strawberry.mutation(description="Delete a repository and its tags; returns its global id.")
    async def delete_repository(self, info: Info, namespace: str, name: str) -> relay.GlobalID:
        ctx, ns, repo = info.context, check_namespace(namespace), check_repository(name)
        await ctx.client.delete_repository(ctx.caller, ns, repo)
        ctx.loaders.forget()
        return relay.GlobalID("Repository", repository_key(ns, repo))


async def _reload(info: Info, namespace: str, name: str) -> Repository:
    info.context.loaders.forget()
    repository = await repository_or_none(info, namespace, name, True)
    if repository is None:  # pragma: no cover - required=True raises instead
        raise UserInputError("repository vanished")
    return repository


__all__ = ["Organization", "Repository", "organization_or_none"]
