"""`GET /v2/manage/users/self`: who the caller is (not in the contract; see docs/manage-api.md).

The Manage API has no "who am I" call: on Huawei Cloud a client reads its identity from IAM
(`GET /v3/auth/tokens`). The embedded backend has no IAM, and the accelerator call
(`/v2/manage/domain/{domain_id}/accelerators`) needs the caller's account id, so this one
read-only call answers with the principal the credentials resolve to.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal.manage.lookup import start

PATH = "/v2/manage/users/self"


async def show_self(request: Request) -> Response:
    principal = start(request).principal
    return JSONResponse({
        "user_id": principal.user_id,
        "user_name": principal.user_name,
        "domain_id": principal.domain_id,
        "domain_name": principal.domain_name,
        "is_admin": principal.is_admin,
    })


routes: list[BaseRoute] = [Route(PATH, show_self, methods=["GET"])]
