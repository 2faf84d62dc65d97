"""GraphQL error codes, input validation, and masking of unexpected errors.

Every error a client sees carries `extensions.code`:

| code | when |
|---|---|
| `UNAUTHENTICATED` | no token, or the backend rejected it (401) |
| `FORBIDDEN` | the backend refused the operation (403) |
| `NOT_FOUND` | the named object does not exist (404) |
| `CONFLICT` | the object already exists (409) |
| `BAD_USER_INPUT` | invalid arguments, here or at the backend (400, 406, 413) |
| `BAD_USER_INPUT` | a global id whose type is not a `Node` type (`node(id:)`) |
| `BACKEND_UNAVAILABLE` | the backend is down, timed out or answered 5xx |
| `GRAPHQL_VALIDATION_FAILED` | the document does not match the schema |
| `INTERNAL_SERVER_ERROR` | anything else; the text is masked, the stack is logged |

Backend errors add `extensions.backendCode` (the SWR `error_code`) when the backend sent one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.relay import GlobalIDValueError

from gateway.backend.errors import BackendError

logger = logging.getLogger("gateway.graphql.errors")

NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9]*(?:(?:\.|_{1,2}|-+)[a-z0-9]+)*$")
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_{1,2}|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
MASKED_MESSAGE = "Unexpected error."


class UserInputError(Exception):
    """Arguments the gateway refuses before calling the backend."""

    code = "BAD_USER_INPUT"


def check_namespace(name: str) -> str:
    if not (len(name) <= 64 and NAMESPACE_RE.match(name)):
        raise UserInputError(f"invalid organization name: {name!r}")
    return name


def check_repository(name: str) -> str:
    if not (len(name) <= 128 and REPOSITORY_RE.match(name)):
        raise UserInputError(f"invalid repository name: {name!r}")
    return name


def check_tag(name: str) -> str:
    if not TAG_RE.match(name):
        raise UserInputError(f"invalid tag name: {name!r}")
    return name


def _extensions(error: GraphQLError) -> tuple[str, dict[str, Any]] | None:
    """(message, extensions) for errors whose text may reach clients; None means mask."""
    original = error.original_error
    if isinstance(original, BackendError):
        extra = {"backendCode": original.backend_code} if original.backend_code else {}
        return original.message, {"code": original.code, **extra}
    if isinstance(original, UserInputError):
        return str(original), {"code": original.code}
    if isinstance(original, GlobalIDValueError):  # strawberry's text names the type it refused
        return str(original), {"code": UserInputError.code}
    if original is None:  # parse and validation errors: graphql-core wrote the text
        code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
        return error.message, {"code": code}
    if isinstance(original, GraphQLError):
        return _extensions(original)
    return None


def classify(error: GraphQLError) -> GraphQLError:
    known = _extensions(error)
    message, extensions = known or (MASKED_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"})
    return GraphQLError(
        message, nodes=error.nodes, source=error.source, positions=error.positions,
        path=error.path, original_error=None, extensions={**(error.extensions or {}),
                                                          **extensions},
    )


def is_unexpected(error: GraphQLError) -> bool:
    return _extensions(error) is None


class ErrorCodes(SchemaExtension):
    """Rewrite each error of a result into its coded, client-safe form (after logging)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [classify(error) for error in errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of a subscription (its operation hook runs only once it ends)."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [classify(error) for error in errors]
        yield
