"""Custom scalars: 64-bit integers and RFC 3339 timestamps."""

from __future__ import annotations

from typing import NewType

import strawberry

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _parse_long(value: object) -> int:
    number = int(str(value))
    if not _LONG_MIN <= number <= _LONG_MAX:
        raise ValueError("Long must fit in 64 bits")
    return number


# GraphQL `Int` stops at 2^31 - 1; sizes and counters are Java Longs in the contract. Sent as a
# JSON number (clients in JavaScript lose precision only above 2^53).
Long = strawberry.scalar(
    NewType("Long", int),
    serialize=int,
    parse_value=_parse_long,
    description="A signed 64-bit integer, sent as a JSON number.",
)

# Passed through as the backend wrote it: parsing every timestamp would cost CPU on hot lists
# and the contract already guarantees RFC 3339 in UTC (section 1.5).
DateTime = strawberry.scalar(
    NewType("DateTime", str),
    serialize=str,
    parse_value=str,
    description="An RFC 3339 timestamp in UTC, e.g. `2021-06-10T08:14:42.56632Z`.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
)
