"""`GET /` and `GET /{api_version}`: which API versions this server speaks (contract 7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from swrlocal import errors
from swrlocal.manage.lookup import start

# The micro-version range and release date of the real service's examples; clients only
# check that `v2` is CURRENT.
VERSIONS = {
    "v2": {"version": "2.26", "min_version": "2.0", "status": "CURRENT",
           "updated": "2017-12-09T00:00:00Z"},
}


def version_detail(request: Request, version_id: str) -> dict[str, object]:
    endpoint = str(request.base_url).rstrip("/")
    return {
        "id": version_id,
        "links": {"href": f"{endpoint}/{version_id}/", "rel": "self"},
        **VERSIONS[version_id],
    }


async def list_versions(request: Request) -> Response:
    return JSONResponse({"versions": [version_detail(request, v) for v in VERSIONS]})


async def show_version(request: Request) -> Response:
    version_id = request.path_params["api_version"]
    if version_id not in VERSIONS:
        raise errors.not_found(f"API version {version_id!r} does not exist")
    start(request)
    return JSONResponse({"version": version_detail(request, version_id)})
