"""A JSONResponse rendered by orjson, for the Manage API's list calls.

A gateway's nested read makes hundreds of these calls; the standard encoder was ~5% of the
backend's CPU on the tag lists (each item carries its manifest). Output is the same compact
UTF-8 JSON starlette writes; values orjson refuses go through starlette's encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError
            return super().render(content)
