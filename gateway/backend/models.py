"""Wire shapes of the Manage API (contract sections 2 to 4), as the backend sends them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

Json = dict[str, Any]


class NamespaceJson(TypedDict, total=False):
    id: int
    name: str
    creator_name: str
    auth: int


class RepositoryJson(TypedDict, total=False):
    """Union of the show (3.4) and list item (3.5) fields; each call fills a subset."""

    id: int
    ns_id: int
    name: str
    namespace: str
    category: str
    description: str
    creator_id: str
    creator_name: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    path: str
    internal_path: str
    created: str
    updated: str
    created_at: str
    updated_at: str
    domain_id: str
    domain_name: str
    tags: list[str]
    total_range: int


class TagJson(TypedDict, total=False):
    id: int
    repo_id: int
    Tag: str
    tag: str
    image_id: str
    manifest: str
    digest: str
    schema: int
    path: str
    internal_path: str
    size: int
    is_trusted: bool
    created: str
    updated: str
    deleted: str | None
    domain_id: str
    scanned: bool
    tag_type: int


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list call: the raw items, where it starts, and the total match count."""

    items: list[Json]
    offset: int
    total: int


@dataclass(frozen=True, slots=True)
class RepositoryQuery:
    """Criteria of `GET /v2/manage/repos` (3.5); hashable, so it can be a loader key."""

    namespace: str | None = None
    name: str | None = None
    category: str | None = None
    is_public: bool | None = None
    order_column: str | None = None
    order_type: str | None = None
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class TagQuery:
    """Criteria of `GET .../repos/{repository}/tags` (4.1); hashable, a loader key."""

    namespace: str
    repository: str
    tag: str | None = None
    order_column: str | None = None
    order_type: str | None = None
    offset: int = 0
    limit: int = 100
