"""Checks of a `Range` header before a `FileResponse` serves it.

FileResponse refuses malformed and unsatisfiable ranges itself, but in `text/plain`; the callers
check first so that the refusal carries their API's error body (SWR or OCI).
"""

from __future__ import annotations

import re

RANGE_SPEC_RE = re.compile(r"^(\d*)-(\d*)$")


def _starts(header: str, size: int) -> list[int] | None:
    """The first byte of each range of a `bytes=` header; None when the header is malformed."""
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    starts = []
    for spec in specs.split(","):
        match = RANGE_SPEC_RE.match(spec.strip())
        if match is None or match.group(1) == match.group(2) == "":
            return None
        first, last = match.groups()
        if first and last and int(first) > int(last):
            return None
        starts.append(int(first) if first else max(size - int(last), 0))
    return starts


def problem(header: str | None, size: int) -> int | None:
    """The status refusing `header` for a file of `size` bytes: 400 when malformed, 416 when
    unsatisfiable, None when FileResponse may serve it (or there is no header).

    Like FileResponse, any range starting at or past the end (a suffix `-0` included) makes the
    whole request unsatisfiable.
    """
    if header is None:
        return None
    starts = _starts(header, size)
    if starts is None:
        return 400
    if any(start >= size for start in starts):
        return 416
    return None
