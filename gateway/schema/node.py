"""Global object identification: `Node`, `node(id:)`, and the node keys of each type.

Global IDs are strawberry's `base64("<TypeName>:<key>")`. Keys are readable names, not backend
numbers, because every Manage API path is addressed by name:

| type | key |
|---|---|
| `Organization` | `<namespace>` |
| `Repository` | `<namespace>/<repository>` (the repository part may itself hold `/`) |
| `Tag` | `<namespace>/<repository>:<tag>` (a tag never holds `:` or `/`) |
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from strawberry import relay

from gateway.backend.errors import NotFound
from gateway.schema.errors import UserInputError

T = TypeVar("T")

Node = relay.Node
NodeID = relay.NodeID


async def load_or_none(pending: Awaitable[T], required: bool) -> T | None:
    """A backend record, or None when it is missing and the caller does not require it.

    Every `<type>_or_none` lookup behind `node(id:)` and the single-object queries uses this:
    a missing (or invisible) object reads as null, anything else stays an error.
    """
    try:
        return await pending
    except NotFound:
        if required:
            raise
        return None


def repository_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def split_repository_key(key: str) -> tuple[str, str]:
    namespace, sep, name = key.partition("/")
    if not sep or not namespace or not name:
        raise UserInputError(f"invalid repository id: {key!r}")
    return namespace, name


def tag_key(namespace: str, repository: str, tag: str) -> str:
    return f"{namespace}/{repository}:{tag}"


def split_tag_key(key: str) -> tuple[str, str, str]:
    repo_key, sep, tag = key.rpartition(":")
    if not sep or not tag:
        raise UserInputError(f"invalid tag id: {key!r}")
    return (*split_repository_key(repo_key), tag)
