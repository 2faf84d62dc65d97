"""Relay connections over the backend's offset/limit lists.

A cursor is `arrayconnection:<offset>` in base64, as strawberry's own list connections write it,
so `after` maps straight to the backend `offset`. `totalCount` comes from `Content-Range`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from gateway.backend.models import Page
from gateway.schema.errors import UserInputError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # the backend's own maximum `limit` (contract 1.6)
_PREFIX = "arrayconnection"
NODES_DOC = "The nodes of `edges`, without cursors: the cheaper shape for large nested reads."

N = TypeVar("N")


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


def cursor_for(offset: int) -> str:
    return relay.to_base64(_PREFIX, offset)


def offset_after(after: str | None) -> int:
    if after is None:
        return 0
    try:
        prefix, value = relay.from_base64(after)
        position = int(value)
    except (ValueError, TypeError) as exc:
        raise UserInputError(f"invalid cursor: {after!r}") from exc
    if prefix != _PREFIX or position < 0:
        raise UserInputError(f"invalid cursor: {after!r}")
    return position + 1


def page_window(first: int | None, after: str | None) -> tuple[int, int]:
    """(offset, limit) for `first`/`after`; rejects negative or oversized pages."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise UserInputError(f"first must be between 0 and {MAX_PAGE_SIZE}, got {size}")
    return offset_after(after), size


def build_connection(
    connection: type[Any], page: Page, limit: int, node: Callable[[dict[str, Any]], Any]
) -> Any:
    """A connection object of type `connection` holding at most `limit` nodes of `page`."""
    nodes = [node(item) for item in page.items[:limit]]
    offset = page.offset
    edges = [relay.Edge(cursor=cursor_for(offset + i), node=n) for i, n in enumerate(nodes)]
    info = relay.PageInfo(
        has_next_page=offset + len(nodes) < page.total,
        has_previous_page=offset > 0,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return connection(edges=edges, nodes=nodes, page_info=info, total_count=page.total)
