"""List criteria shared by the list calls (contract 1.6).

Criteria arrive either as separate query parameters or as one `filter=key::value|key::value`
parameter; when `filter` is present it wins and the separate parameters are ignored. Paging is
`offset` + `limit`, sorting `order_column` + `order_type`, and `Content-Range` is sent only when
the caller gave both `offset` and `limit`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request

from swrlocal import errors

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
ORDER_TYPES = {"asc": "ASC", "desc": "DESC"}


@dataclass(frozen=True)
class Criteria:
    values: dict[str, str]
    from_filter: bool

    def get(self, key: str) -> str | None:
        return self.values.get(key)


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int | None  # None: every record
    explicit: bool  # both offset and limit were sent

    def sql(self) -> tuple[str, dict[str, int]]:
        """A LIMIT clause with named parameters `:page_limit` and `:page_offset`."""
        limit = -1 if self.limit is None else self.limit
        return " LIMIT :page_limit OFFSET :page_offset", {
            "page_limit": limit, "page_offset": self.offset,
        }

    def headers(self, count: int, total: int) -> dict[str, str]:
        if not self.explicit:
            return {}
        return {"Content-Range": f"{self.offset}-{count}/{total}"}


def read_criteria(
    request: Request, keys: Collection[str], ignored: Mapping[str, str] | None = None
) -> Criteria:
    """The caller's criteria; `ignored` maps filter keys to the one value accepted and dropped."""
    params = request.query_params
    if "filter" in params:
        return Criteria(parse_filter(params["filter"], keys, ignored or {}), from_filter=True)
    values = {key: params[key] for key in keys if params.get(key, "") != ""}
    return Criteria(values, from_filter=False)


def parse_filter(text: str, keys: Collection[str], ignored: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    seen = 0
    for pair in text.split("|"):
        if not pair:
            continue  # tolerate a stray `|`, as in `a::1|`
        key, sep, value = pair.partition("::")
        value = unquote(value)  # accept pairs that were encoded once more by the client
        if not sep or not key:
            raise errors.bad_request(
                f"filter pair {pair!r} is not key::value", errors.INVALID_FILTER
            )
        seen += 1
        if key in ignored and value == ignored[key]:
            continue
        if key not in keys:
            raise errors.bad_request(f"unknown filter key {key!r}", errors.INVALID_FILTER)
        if key in values:
            raise errors.bad_request(f"filter key {key!r} given twice", errors.INVALID_FILTER)
        values[key] = value
    if not seen:
        raise errors.bad_request(
            "filter needs at least one key::value pair", errors.INVALID_FILTER
        )
    return values


def _integer(value: str, what: str, code: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise errors.bad_request(f"{what} must be a non-negative integer, got {value!r}", code)
    return int(value)


def read_page(criteria: Criteria, *, all_by_default: bool = False) -> Page:
    """Paging; with `all_by_default` (tags) a request with neither `offset` nor `limit` gets
    every record."""
    raw_offset, raw_limit = criteria.get("offset"), criteria.get("limit")
    offset = 0 if raw_offset is None else _integer(raw_offset, "offset", errors.INVALID_PARAMETERS)
    if raw_limit is None:
        limit = None if all_by_default and raw_offset is None else DEFAULT_LIMIT
    else:
        limit = _integer(raw_limit, "limit", errors.INVALID_PAGE_SIZE)
        if not 1 <= limit <= MAX_LIMIT:
            raise errors.bad_request(
                f"limit must be between 1 and {MAX_LIMIT}", errors.INVALID_PAGE_SIZE
            )
    return Page(offset, limit, explicit=raw_offset is not None and raw_limit is not None)


def read_order(criteria: Criteria, columns: Mapping[str, str]) -> tuple[str, str] | None:
    """The SQL sort expression and direction asked for, or None for the default order."""
    column, direction = criteria.get("order_column"), criteria.get("order_type")
    if column is None and direction is None:
        return None
    if column is None or direction is None:
        raise errors.bad_request("order_column and order_type must be sent together")
    if column not in columns:
        raise errors.bad_request(
            f"order_column must be one of {', '.join(columns)}, got {column!r}"
        )
    if direction.lower() not in ORDER_TYPES:
        raise errors.bad_request(f"order_type must be asc or desc, got {direction!r}")
    return columns[column], ORDER_TYPES[direction.lower()]


def read_bool(value: str, name: str, code: str = errors.INVALID_PARAMETERS) -> bool:
    if value not in ("true", "false"):
        raise errors.bad_request(f"{name} must be true or false, got {value!r}", code)
    return value == "true"
