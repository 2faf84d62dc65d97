"""Image tags: type, the `Repository.tags` connection, and tag deletion."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay

from gateway.backend.errors import NotFound
from gateway.backend.models import TagQuery
from gateway.schema.errors import check_namespace, check_repository, check_tag
from gateway.schema.node import load_or_none, split_tag_key, tag_key
from gateway.schema.pagination import NODES_DOC, OrderDirection, build_connection, page_window
from gateway.schema.repositories import Repository, repository_or_none
from gateway.schema.scalars import DateTime, Long
from gateway.schema.types import Info


@strawberry.type(description="A tag of a repository: one pushed image manifest or index.")
class Tag(relay.Node):
    key: relay.NodeID[str]
    name: str
    database_id: Long | None = strawberry.field(description="The backend's numeric id.")
    digest: str = strawberry.field(description="Manifest digest, `sha256:<hex>`.")
    image_id: str = strawberry.field(description="Image config id (hex, no prefix).")
    manifest: str = strawberry.field(description="The manifest JSON as a string.")
    schema_version: int = strawberry.field(description="Docker manifest schema, 1 or 2.")
    tag_type: int = strawberry.field(description="0 manifest, 1 manifest list / index.")
    is_index: bool = strawberry.field(description="True for a manifest list / OCI index.")
    path: str = strawberry.field(description="External pull address with the tag.")
    internal_path: str
    size: Long = strawberry.field(description="Bytes.")
    is_trusted: bool
    scanned: bool | None
    domain_id: str | None
    created_at: DateTime | None
    updated_at: DateTime | None
    namespace: strawberry.Private[str]
    repository_name: strawberry.Private[str]

    @classmethod
    def from_json(cls, data: dict[str, Any], namespace: str, repository: str) -> Tag:
        """Build from a list item (`Tag`) or a single-tag body (`tag`)."""
        get = data.get
        name = get("Tag") or get("tag") or ""
        tag_type = get("tag_type") or 0
        return cls(
            key=tag_key(namespace, repository, name), name=name, database_id=get("id"),
            digest=get("digest", ""), image_id=get("image_id", ""),
            manifest=get("manifest", ""), schema_version=get("schema", 2),
            tag_type=tag_type, is_index=tag_type == 1, path=get("path", ""),
            internal_path=get("internal_path", ""), size=get("size", 0),
            is_trusted=get("is_trusted", False), scanned=get("scanned"),
            domain_id=get("domain_id"), created_at=get("created"), updated_at=get("updated"),
            namespace=namespace, repository_name=repository,
        )

    @strawberry.field(description="The repository holding this tag.")
    async def repository(self, info: Info) -> Repository:
        found = await repository_or_none(info, self.namespace, self.repository_name, True)
        assert found is not None  # required=True raises NotFound instead of returning None
        return found

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Tag | None]:
        return [await tag_or_none(info, *split_tag_key(key), required) for key in node_ids]


async def tag_or_none(
    info: Info, namespace: str, repository: str, tag: str, required: bool
) -> Tag | None:
    key = (check_namespace(namespace), check_repository(repository), check_tag(tag))
    data = await load_or_none(info.context.loaders.tag_by_name.load(key), required)
    return None if data is None else Tag.from_json(data, *key[:2])


@strawberry.type
class TagConnection(relay.Connection[Tag]):
    nodes: list[Tag] = strawberry.field(description=NODES_DOC)
    total_count: int = strawberry.field(description="Matching tags in all pages.")


@strawberry.input
class TagFilter:
    name: str | None = strawberry.field(default=None, description="Tag name to look for.")


@strawberry.enum
class TagOrderField(Enum):
    NAME = "tag"
    UPDATED_AT = "updated_at"


@strawberry.input
class TagOrder:
    field: TagOrderField
    direction: OrderDirection = OrderDirection.ASC


async def load_tags(
    info: Info, namespace: str, repository: str, filter: TagFilter | None,
    order_by: TagOrder | None, first: int | None, after: str | None,
) -> TagConnection:
    offset, limit = page_window(first, after)
    query = TagQuery(
        namespace, repository, tag=filter.name if filter else None,
        order_column=order_by.field.value if order_by else None,
        order_type=order_by.direction.value if order_by else None,
        offset=offset, limit=max(limit, 1),
    )
    page = await info.context.loaders.tag_page_by_query.load(query)
    return build_connection(
        TagConnection, page, limit, lambda item: Tag.from_json(item, namespace, repository)
    )


@strawberry.type
class TagMutations:
    @strawberry.mutation(description="Delete a tag; returns its global id.")
    async def delete_tag(
        self, info: Info, namespace: str, repository: str, tag: str
    ) -> relay.GlobalID:
        ctx = info.context
        key = (check_namespace(namespace), check_repository(repository), check_tag(tag))
        await ctx.client.delete_tag(ctx.caller, *key)
        ctx.loaders.forget()
        return relay.GlobalID("Tag", tag_key(*key))


__all__ = ["NotFound", "Tag", "TagConnection"]
