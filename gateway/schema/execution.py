"""An execution context that completes plain scalar attributes without graphql-core's field path.

A nested read such as organizations → repositories → tags resolves thousands of leaf fields
(`name`, `digest`, ...), each a plain attribute of an already-built object. graphql-core spends
about 10 µs on every one of them: a resolve-info object, the argument check, strawberry's
basic-field wrapper, then `complete_value`. For a leaf whose strawberry field has no resolver, no
field extensions and no arguments, reading the attribute and coercing it gives the same value, so
`execute_field` does exactly that. Anything unusual (null, a value the scalar refuses, a schema
with resolver middleware) falls back to the full path, which also reports the error.
"""

from __future__ import annotations

from typing import Any

from graphql import (
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


class GatewayExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-leaf shortcut described above."""

    def execute_field(  # type: ignore[override]
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
        path: Path, *args: Any, **kwargs: Any,
    ) -> Any:
        node = field_details_list[0].node
        leaf = None if self.middleware_manager or node.arguments else _leaf_for(
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
