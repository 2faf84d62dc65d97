"""Bounds on what one unauthenticated request can make the gateway do.

The request body is capped here, before strawberry reads it; the document's size and shape
(tokens, depth, aliases) by the `DocumentLimits` schema extension, from the app's settings.
Without them `{ __typename ×400k }` blocked the event loop for 11 s and took 450 MB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import ASTValidationRule
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from gateway import fastjson


@dataclass(frozen=True)
class QueryLimits:
    """Bounds on one document (README, "Limits"). The defaults leave ample room for every
    query of the tests, bench/ and README (at most ~100 tokens, depth 9, 2 aliases) and for
    GraphiQL's introspection query (~180 tokens; introspection fields count no depth)."""

    max_tokens: int = 2000
    max_depth: int = 12
    max_aliases: int = 30


@lru_cache(maxsize=8)
def validation_rules(limits: QueryLimits) -> tuple[type[ASTValidationRule], ...]:
    """Made once per limits: the validation cache keys on the rule classes."""
    depth = QueryDepthLimiter(max_depth=limits.max_depth)
    aliases = MaxAliasesLimiter(max_alias_count=limits.max_aliases)
    return (*depth.validation_rules, *aliases.validation_rules)


class DocumentLimits(SchemaExtension):
    """strawberry's token, depth and alias limiters with the limits of the serving app
    (`app.state.query_limits`); defaults where there is no app (`schema.execute` in tests)."""

    def on_operation(self) -> Iterator[None]:
        limits = self._limits()
        self.execution_context.parse_options["max_tokens"] = limits.max_tokens
        self.execution_context.validation_rules = (
            *self.execution_context.validation_rules, *validation_rules(limits))
        yield

    def _limits(self) -> QueryLimits:
        request = getattr(self.execution_context.context, "request", None)
        state = getattr(getattr(request, "app", None), "state", None)
        return getattr(state, "query_limits", None) or QueryLimits()


class BodyLimitMiddleware:
    """Answers 413 with a GraphQL-style error when an HTTP body exceeds `max_bytes`.

    The body is read here in full (at most `max_bytes`), then replayed to the app: strawberry
    reads whole bodies anyway, and a chunked body has no Content-Length to check up front.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared(scope) > self.max_bytes:
            await self._too_large(send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await self.app(scope, _replay(messages, receive), send)

    @staticmethod
    def _declared(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    async def _too_large(self, send: Send) -> None:
        body = fastjson.dumps({"data": None, "errors": [{
            "message": f"request body exceeds {self.max_bytes} bytes",
            "extensions": {"code": "BAD_USER_INPUT"},
        }]})
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is not read
        ]})
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` returning the buffered messages, then the server's own (disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
