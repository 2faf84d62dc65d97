"""The gateway's GraphQL schema, joined from one module per domain.

Later domains (accounts and `viewer`, shares, pipelines with subscriptions) add a module with
`<Domain>Queries` / `<Domain>Mutations` / `<Domain>Subscriptions` and join the lists below.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from gateway.limits import DocumentLimits
from gateway.schema.accounts import AccountMutations, AccountQueries
from gateway.schema.errors import ErrorCodes, is_unexpected, logger
from gateway.schema.execution import GatewayExecutionContext
from gateway.schema.official import OfficialImage, OfficialQueries
from gateway.schema.organizations import OrganizationMutations, OrganizationQueries
from gateway.schema.packages import Package, PackageQueries
from gateway.schema.pipeline_mutations import PipelineMutations
from gateway.schema.pipeline_subscriptions import PipelineSubscriptions
from gateway.schema.pipelines import Job, PipelineQueries, PipelineTemplate
from gateway.schema.repositories import RepositoryMutations, RepositoryQueries
from gateway.schema.sharing import RepositoryShare, SharingMutations, SharingQueries
from gateway.schema.tags import Tag, TagMutations


@strawberry.type
class NodeQueries:
    node: relay.Node | None = relay.node(description="Any object by its global id.")


Query = merge_types("Query", (
    NodeQueries, OrganizationQueries, RepositoryQueries, AccountQueries, SharingQueries,
    OfficialQueries, PackageQueries, PipelineQueries,
))
Mutation = merge_types("Mutation", (
    OrganizationMutations, RepositoryMutations, TagMutations, AccountMutations,
    SharingMutations, PipelineMutations,
))
Subscription = merge_types("Subscription", (PipelineSubscriptions,))


class GatewaySchema(strawberry.Schema):
    """Logs unexpected errors with their stack and request id; expected ones at DEBUG."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context: Any = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "-")
        for error in errors:
            if is_unexpected(error):
                logger.error("request_id=%s unexpected error at %s", request_id, error.path,
                             exc_info=error.original_error)
            else:
                logger.debug("request_id=%s %s", request_id, error.message)


schema = GatewaySchema(
    query=Query, mutation=Mutation, subscription=Subscription,
    types=[Tag, RepositoryShare, OfficialImage, Package, PipelineTemplate, Job],
    # DocumentLimits: the token bound makes the parser give up early on huge documents.
    # Parsing and validating depend only on the query text and the schema; clients send the
    # same few documents over and over (bounded LRU, 128 texts).
    extensions=[DocumentLimits, ErrorCodes, lambda: ParserCache(maxsize=128),
                lambda: ValidationCache(maxsize=128)],
    # Plain scalar attributes skip graphql-core's per-field path (gateway/schema/execution.py).
    execution_context_class=GatewayExecutionContext,
)
