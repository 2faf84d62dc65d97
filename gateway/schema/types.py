"""Typing helpers shared by the schema modules."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info as _Info

from gateway.context import Context

Info = _Info[Context, Any]
