"""Official images (contract 10.1): the read-only catalog every account may pull from."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from strawberry import relay

from gateway.backend import manage_extra as calls
from gateway.backend.models import Json
from gateway.schema.errors import check_namespace, check_repository
from gateway.schema.node import load_or_none, repository_key, split_repository_key
from gateway.schema.pagination import NODES_DOC, build_connection, page_window
from gateway.schema.scalars import DateTime, Long
from gateway.schema.types import Info


def rfc3339_of(last_updated: str | None) -> str | None:
    """`2017-10-16 21:33:44` (the old interface's UTC form) as RFC 3339, like other times."""
    if not last_updated:
        return None
    return last_updated.replace(" ", "T", 1) + ("" if last_updated.endswith("Z") else "Z")


@strawberry.type(description="One version (tag) of an official image.")
class OfficialImageVersion:
    name: str
    database_id: Long | None
    size: Long = strawberry.field(description="Image size in bytes (an index: all images).")
    updated_at: DateTime | None

    @classmethod
    def from_json(cls, data: Json) -> OfficialImageVersion:
        return cls(name=data["name"], database_id=data.get("id"), size=data.get("size", 0),
                   updated_at=rfc3339_of(data.get("last_updated")))


@strawberry.type
# Versions have no id of their own to fetch them by, so they are not Nodes.
class OfficialImageVersionConnection(
    relay.Connection[OfficialImageVersion]  # type: ignore[type-var]
):
    nodes: list[OfficialImageVersion] = strawberry.field(description=NODES_DOC)
    total_count: int


@strawberry.type(description="An official image: `<namespace>/<name>`, pullable by anyone.")
class OfficialImage(relay.Node):
    key: relay.NodeID[str]
    namespace: str
    name: str
    database_id: Long | None
    description: str
    star_count: Long
    pull_count: Long = strawberry.field(description="Manifest pulls so far.")
    is_collected: bool
    updated_at: DateTime | None

    @classmethod
    def from_json(cls, data: Json) -> OfficialImage:
        ns, name = data["namespace"], data["name"]
        return cls(
            key=repository_key(ns, name), namespace=ns, name=name, database_id=data.get("id"),
            description=data.get("description", ""), star_count=data.get("star_count", 0),
            pull_count=data.get("pull_count", 0), is_collected=bool(data.get("is_collected")),
            updated_at=rfc3339_of(data.get("last_updated")),
        )

    @strawberry.field(description="Versions, newest first.")
    async def versions(self, info: Info, first: int | None = None, after: str | None = None
                       ) -> OfficialImageVersionConnection:
        offset, limit = page_window(first, after)
        key = (self.namespace, self.name, offset, max(limit, 1))
        page = await info.context.loaders.extra.official_tag_page.load(key)
        return build_connection(OfficialImageVersionConnection, page, limit,
                                OfficialImageVersion.from_json)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[OfficialImage | None]:
        return [await official_or_none(info, *split_repository_key(key), required)
                for key in node_ids]


async def official_or_none(info: Info, namespace: str, name: str, required: bool = False
                           ) -> OfficialImage | None:
    key = (check_namespace(namespace), check_repository(name))
    data = await load_or_none(info.context.loaders.extra.official_by_name.load(key), required)
    return None if data is None else OfficialImage.from_json(data)


@strawberry.type
class OfficialImageConnection(relay.Connection[OfficialImage]):
    nodes: list[OfficialImage] = strawberry.field(description=NODES_DOC)
    total_count: int


@strawberry.input
class OfficialImageFilter:
    namespace: str | None = strawberry.field(default=None, description="Exact.")
    name: str | None = strawberry.field(default=None, description="Substring of the name.")


@strawberry.type
class OfficialQueries:
    @strawberry.field(description="The official image catalog, by namespace and name.")
    async def official_images(
        self, info: Info, filter: OfficialImageFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> OfficialImageConnection:
        f = filter or OfficialImageFilter()
        offset, limit = page_window(first, after)
        query = calls.OfficialQuery(
            namespace=f.namespace and check_namespace(f.namespace), image_name=f.name,
            offset=offset, limit=max(limit, 1),
        )
        page = await info.context.loaders.extra.official_page_by_query.load((query,))
        return build_connection(OfficialImageConnection, page, limit, OfficialImage.from_json)

    @strawberry.field(description="One official image; null when there is none.")
    async def official_image(self, info: Info, namespace: str, name: str
                             ) -> OfficialImage | None:
        return await official_or_none(info, namespace, name)
