"""Bodies in JSON or YAML, responses in the format the client accepts, and list paging.

ContainerOps answers YAML unless the client sends `Accept: application/json` (contract 10.3);
errors stay JSON (the SWR error body) whatever the client accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from swrlocal.containerops import codes

MAX_BODY = 1 << 20
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


def respond(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if status == 204:
        return Response(status_code=204, headers=headers)
    if wants_json(request):
        content = json.dumps(body, ensure_ascii=False).encode()
        media = "application/json"
    else:
        content = yaml.safe_dump(body, sort_keys=False, allow_unicode=True).encode()
        media = "application/yaml;charset=utf8"
    return Response(content, status_code=status, headers=headers, media_type=media)


async def read_body(request: Request) -> dict[str, Any]:
    """The request body as an object; an empty body is `{}`."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise codes.bad("the request body is larger than 1 MiB")
    if not raw.strip():
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        data = yaml.safe_load(raw) if kind in YAML_TYPES else json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise codes.bad(
            f"the body is not valid {'YAML' if kind in YAML_TYPES else 'JSON'}"
        ) from exc
    if not isinstance(data, dict):
        raise codes.bad("the body must be an object")
    return data


def query_criteria(request: Request) -> dict[str, str]:
    """Separate query parameters merged with `filter=k::v|k::v` pairs; the filter wins (1.6)."""
    values = {k: v for k, v in request.query_params.items() if k != "filter"}
    text = request.query_params.get("filter")
    if text is None:
        return values
    pairs = [p for p in text.split("|") if p]
    if not pairs:
        raise codes.bad("filter needs at least one key::value pair", codes.INVALID_QUERY)
    for pair in pairs:
        key, sep, value = pair.partition("::")
        if not sep or not key:
            raise codes.bad(f"bad filter pair {pair!r}", codes.INVALID_QUERY)
        values[key] = value
    return values


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    explicit: bool  # both offset and limit were sent

    def header(self, count: int, total: int) -> dict[str, str]:
        """`Content-Range`, only when the request carried `offset` and `limit` (contract 1.6)."""
        if not self.explicit:
            return {}
        return {"Content-Range": f"{self.offset}-{count}/{total}"}


def page_of(criteria: dict[str, str]) -> Page:
    explicit = bool(criteria.get("offset")) and bool(criteria.get("limit"))
    return Page(
        _number(criteria, "offset", 0, None),
        _number(criteria, "limit", DEFAULT_LIMIT, MAX_LIMIT),
        explicit,
    )


def _number(criteria: dict[str, str], name: str, default: int, top: int | None) -> int:
    text = criteria.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise codes.bad(f"{name} must be a non-negative integer", codes.INVALID_QUERY)
    value = int(text)
    if top is not None and not 1 <= value <= top:
        raise codes.bad(f"{name} must be between 1 and {top}", codes.INVALID_QUERY)
    return value
