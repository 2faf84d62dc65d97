"""An execution context that completes plain scalar attributes without graphql-core's field path.

A nested read such as organizations → repositories → tags resolves thousands of leaf fields
(`name`, `digest`, ...), each a plain attribute of an already-built object. graphql-core spends
about 10 µs on every one of them: a resolve-info object, the argument check, strawberry's
basic-field wrapper, then `complete_value`. For a leaf whose strawberry field has no resolver, no
field extensions and no arguments, reading the attribute and coercing it gives the same value, so
`execute_field` does exactly that. Anything unusual (null, a value the scalar refuses, a schema
with resolver middleware) falls back to the full path, which also reports the error.

Subscription events shared by many subscribers (one log line published to every subscriber of
the job) are executed once per (operation, variables): a payload that carries a
`shared_results` dict opts in, promising that its selection set reads only its own attributes
(no resolvers, no context, no arguments below the root field). The first subscriber's
error-free result is stored in that dict and handed to every other subscriber that sent the
same document and variables; results with errors are never shared, so each subscriber still
gets (and logs) its own.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from gateway import fastjson

# (attribute name, default resolver, coerce, nullable) of a plain leaf field.
_Leaf = tuple[str, Any, Any, bool]
# Keyed by the type object itself (not its name), so two schemas in one process never mix.
_leaves: dict[tuple[GraphQLObjectType, str], _Leaf | None] = {}


def _plain_leaf(field_def: GraphQLField) -> _Leaf | None:
    """The fast-path recipe for `field_def`, or None when it needs the full path."""
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or field_def.args:
        return None
    if not getattr(field_def.resolve, "_is_default", False):  # strawberry's basic field
        return None
    gql_type, nullable = field_def.type, True
    if isinstance(gql_type, GraphQLNonNull):
        gql_type, nullable = gql_type.of_type, False
    if not isinstance(gql_type, GraphQLScalarType):  # enums and objects: full path
        return None
    return field.python_name, field.default_resolver, gql_type.coerce_output_value, nullable


def _leaf_for(parent_type: GraphQLObjectType, name: str) -> _Leaf | None:
    key = (parent_type, name)
    try:
        return _leaves[key]
    except KeyError:
        field_def = parent_type.fields.get(name)
        leaf = _leaves[key] = None if field_def is None else _plain_leaf(field_def)
        return leaf


def _has_middleware(manager: Any) -> bool:
    # Strawberry passes a MiddlewareManager on every execution, empty when no extension
    # resolves; the object itself is always truthy, so look at what it holds.
    return manager is not None and bool(getattr(manager, "middlewares", True))


SHARED_RESULTS = "shared_results"
_UNSHARABLE = object()


class _Replay:
    """Stands in for a per-event executor whose result another subscriber already computed."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


class _Recording:
    """A per-event executor whose error-free result is stored for the other subscribers."""

    __slots__ = ("executor", "key", "results")

    def __init__(self, executor: Any, results: dict[Hashable, Any], key: Hashable) -> None:
        self.executor, self.results, self.key = executor, results, key

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = self.executor.execute_operation(serially)
        if isinstance(result, ExecutionResult) and not result.errors:
            # The operation is kept with the result: its id in the key stays its own.
            self.results[self.key] = (self.executor.operation, result)
        return result


class GatewayExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-leaf shortcut and shared events above."""

    _sharing_key: Any = None

    def build_per_event_executor(self, payload: Any) -> Any:
        results = getattr(payload, SHARED_RESULTS, None)
        key = self._event_key() if isinstance(results, dict) else _UNSHARABLE
        if key is _UNSHARABLE:
            return super().build_per_event_executor(payload)
        assert isinstance(results, dict)
        done = results.get(key)
        if done is not None and done[0] is self.operation:
            return _Replay(done[1])
        return _Recording(super().build_per_event_executor(payload), results, key)

    def _event_key(self) -> Any:
        """(operation node, variables as JSON): equal keys execute to equal results."""
        if self._sharing_key is None:
            self._sharing_key = _UNSHARABLE
            if not _has_middleware(self.middleware_manager):  # it could read the caller
                try:
                    variables = fastjson.dumps_sorted(self.variable_values.coerced)
                except TypeError:  # a value JSON cannot tell apart: execute per subscriber
                    return _UNSHARABLE
                # The node is the parser cache's: one object per distinct document text.
                self._sharing_key = (id(self.operation), variables)
        return self._sharing_key

    def execute_field(  # type: ignore[override]
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
        path: Path, *args: Any, **kwargs: Any,
    ) -> Any:
        node = field_details_list[0].node
        leaf = None if node.arguments or _has_middleware(self.middleware_manager) else _leaf_for(
            parent_type, node.name.value
        )
        if leaf is not None:
            attribute, resolve, coerce, nullable = leaf
            try:
                value = resolve(source, attribute)
                if value is None:
                    if nullable:
                        return None
                else:
                    coerced = coerce(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # the full path below reports it
                pass
        return super().execute_field(parent_type, source, field_details_list, path,
                                     *args, **kwargs)


__all__ = ["GatewayExecutionContext"]
