"""JSON for the hot paths: backend bodies in, GraphQL responses out.

orjson decodes the Manage API's tag lists (each item carries its manifest as a string) and
encodes the 100 KB responses of nested reads several times faster than the standard library.
What orjson refuses (integers beyond 64 bits, non-string keys) goes through `json` as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # raises the standard error where the text is truly invalid


def dumps(data: object) -> bytes:
    """Compact JSON as UTF-8 bytes (non-ASCII characters are not escaped)."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError: a value orjson does not take
        return json.dumps(data, separators=(",", ":")).encode()


def dumps_sorted(data: object) -> bytes:
    """Canonical JSON (sorted keys) for use as a key; TypeError for what orjson refuses."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from exc
