"""Software packages (contract 10.2): packages, their versions and files.

File bytes never travel through the graph: `PackageFile.downloadUrl` points at the gateway's
streaming route (`gateway.downloads`).
"""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from strawberry import relay

from gateway.backend import manage_extra as calls
from gateway.backend.models import Json
from gateway.downloads import LINK_SECONDS, download_url
from gateway.schema.errors import check_namespace, check_repository
from gateway.schema.node import repository_key, split_repository_key
from gateway.schema.organizations import Permission
from gateway.schema.pagination import NODES_DOC, build_connection, page_window
from gateway.schema.scalars import DateTime, Long
from gateway.schema.types import Info

_LEVELS = {p.value: p for p in Permission}


@strawberry.type(description="A file of a package version.")
class PackageFile:
    folder: str = strawberry.field(description="`/` or `/a/b`.")
    filename: str
    path: str = strawberry.field(description="`folder/filename` without the leading `/`.")
    size: Long
    sha512: str = strawberry.field(description="SHA-512 of the content, hex.")
    created_at: DateTime | None
    updated_at: DateTime | None
    namespace: strawberry.Private[str]
    package: strawberry.Private[str]
    version: strawberry.Private[str]

    @strawberry.field(description="Gateway URL (a path) that streams the file, with Range "
                      f"support. It carries a signed token valid for {LINK_SECONDS} seconds, "
                      "so a browser can follow it; without it, send the usual token header.")
    def download_url(self, info: Info) -> str:
        ctx = info.context
        links = ctx.request.app.state.download_links
        return download_url(links, ctx.caller.token, self.namespace, self.package,
                            self.version, self.folder, self.filename)


@strawberry.type(description="A version of a package.")
class PackageVersion:
    version: str
    database_id: Long | None
    size: Long
    file_count: int
    description: str
    created_at: DateTime | None
    updated_at: DateTime | None
    namespace: strawberry.Private[str]
    package: strawberry.Private[str]

    @classmethod
    def from_json(cls, data: Json, namespace: str, package: str) -> PackageVersion:
        return cls(
            version=data["version"], database_id=data.get("id"), size=data.get("size", 0),
            file_count=data.get("num_files", 0), description=data.get("description", ""),
            created_at=data.get("CreatedAt"), updated_at=data.get("UpdatedAt"),
            namespace=namespace, package=package,
        )

    @strawberry.field(description="Files of this version.")
    async def files(self, info: Info) -> list[PackageFile]:
        key = (self.namespace, self.package, self.version)
        items = await info.context.loaders.extra.files_by_version.load(key)
        return [_file(item, *key) for item in items]


def _file(data: Json, namespace: str, package: str, version: str) -> PackageFile:
    folder, filename = data.get("folder", "/"), data["filename"]
    return PackageFile(
        folder=folder, filename=filename, path=f"{folder.strip('/')}/{filename}".lstrip("/"),
        size=data.get("size", 0), sha512=data.get("digest", ""),
        created_at=data.get("created"), updated_at=data.get("updated"),
        namespace=namespace, package=package, version=version,
    )


@strawberry.type(description="A software package: a repository filled by `oras push`.")
class Package(relay.Node):
    key: relay.NodeID[str]
    namespace: str
    name: str
    database_id: Long | None
    description: str
    size: Long = strawberry.field(description="Bytes of all files of all versions.")
    version_count: int
    creator_name: str
    owner_account: str
    is_public: bool
    permission: Permission = strawberry.field(description="What the caller may do here.")
    created_at: DateTime | None
    updated_at: DateTime | None

    @classmethod
    def from_json(cls, data: Json) -> Package:
        ns, name = data["namespace"], data["package"]
        return cls(
            key=repository_key(ns, name), namespace=ns, name=name, database_id=data.get("id"),
            description=data.get("description", ""), size=data.get("size", 0),
            version_count=data.get("num_versions", 0), creator_name=data.get("creator", ""),
            owner_account=data.get("domain", ""), is_public=data.get("visibility") == "public",
            permission=_LEVELS.get(data.get("self_auth", 0), Permission.NONE),
            created_at=data.get("created"), updated_at=data.get("updated"),
        )

    @strawberry.field(description="Versions, newest first.")
    async def versions(self, info: Info) -> list[PackageVersion]:
        loader = info.context.loaders.extra.versions_by_package
        items = await loader.load((self.namespace, self.name))
        return [PackageVersion.from_json(item, self.namespace, self.name) for item in items]

    @strawberry.field(description="One version; null when there is none.")
    async def version(self, info: Info, version: str) -> PackageVersion | None:
        found = [v for v in await self.versions(info) if v.version == version]
        return found[0] if found else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Package | None]:
        return [await package_or_none(info, *split_repository_key(key)) for key in node_ids]


async def package_or_none(info: Info, namespace: str, name: str) -> Package | None:
    """The list call with both criteria; `package_name` is a substring, so pick the exact one."""
    query = calls.PackageQuery(namespace=check_namespace(namespace),
                               package_name=check_repository(name), offset=0, limit=1000)
    page = await info.context.loaders.extra.package_page_by_query.load((query,))
    found = [item for item in page.items if item["package"] == name]
    return Package.from_json(found[0]) if found else None


@strawberry.type
class PackageConnection(relay.Connection[Package]):
    nodes: list[Package] = strawberry.field(description=NODES_DOC)
    total_count: int


@strawberry.type
class PackageQueries:
    @strawberry.field(description="Packages the caller can read, by namespace and name.")
    async def packages(
        self, info: Info, namespace: str | None = None, name: str | None = None,
        first: int | None = None, after: str | None = None,
    ) -> PackageConnection:
        offset, limit = page_window(first, after)
        query = calls.PackageQuery(namespace=namespace and check_namespace(namespace),
                                   package_name=name, offset=offset, limit=max(limit, 1))
        page = await info.context.loaders.extra.package_page_by_query.load((query,))
        return build_connection(PackageConnection, page, limit, Package.from_json)

    @strawberry.field(description="One package; null when it is absent or not readable.")
    async def package(self, info: Info, namespace: str, name: str) -> Package | None:
        return await package_or_none(info, namespace, name)
