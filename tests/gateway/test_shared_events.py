"""One execution per (published event, document, variables), shared by identical subscriptions.

A small schema with the gateway's execution context: the payload objects are published to
several subscriptions as the same instance, like a log follower's lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.extensions import ParserCache

from gateway.schema.execution import GatewayExecutionContext


@strawberry.type
class Line:
    offset: int
    content: str
    shared_results: strawberry.Private[dict[object, object]] = dataclasses.field(
        default_factory=dict)


@strawberry.type
class Unshared:
    offset: int


LINES = [Line(offset=i, content=f"line {i}") for i in range(3)]


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def lines(self, tag: str = "") -> AsyncGenerator[Line, None]:
        for line in LINES:
            yield line

    @strawberry.subscription
    async def plain(self) -> AsyncGenerator[Unshared, None]:
        for line in LINES:
            yield Unshared(offset=line.offset)


schema = strawberry.Schema(query=Query, subscription=Subscription,
                           extensions=[lambda: ParserCache(maxsize=8)],
                           execution_context_class=GatewayExecutionContext)
DOC = "subscription($t: String!) { lines(tag: $t) { offset content } }"


async def results(query: str, variables: dict[str, Any] | None = None) -> list[Any]:
    stream = await schema.subscribe(query, variable_values=variables)
    assert not isinstance(stream, strawberry.types.ExecutionResult)
    return [result async for result in stream]


async def test_identical_subscriptions_share_each_event_result() -> None:
    first, second = await results(DOC, {"t": "a"}), await results(DOC, {"t": "a"})

    assert [r.data for r in first] == [
        {"lines": {"offset": i, "content": f"line {i}"}} for i in range(3)]
    assert all(a.data is b.data for a, b in zip(first, second, strict=True))


async def test_other_variables_or_documents_execute_on_their_own() -> None:
    base = await results(DOC, {"t": "b"})
    other_vars = await results(DOC, {"t": "c"})
    other_doc = await results("subscription { lines(tag: \"b\") { offset } }")

    assert [r.data for r in other_vars] == [r.data for r in base]
    assert all(a.data is not b.data for a, b in zip(base, other_vars, strict=True))
    assert [r.data["lines"] for r in other_doc] == [{"offset": i} for i in range(3)]


async def test_payloads_without_shared_results_are_executed_per_subscription() -> None:
    first, second = await results("subscription { plain { offset } }"), await results(
        "subscription { plain { offset } }")

    assert [r.data for r in first] == [r.data for r in second]
    assert all(a.data is not b.data for a, b in zip(first, second, strict=True))
