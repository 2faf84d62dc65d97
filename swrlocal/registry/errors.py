"""OCI distribution errors and their response body.

Registry clients read `{"errors": [{"code", "message", "detail"}]}` with the codes of the
distribution spec, not the Manage API's SWR body, so the registry keeps its own error type.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"

BLOB_UNKNOWN = "BLOB_UNKNOWN"
BLOB_UPLOAD_INVALID = "BLOB_UPLOAD_INVALID"
BLOB_UPLOAD_UNKNOWN = "BLOB_UPLOAD_UNKNOWN"
DIGEST_INVALID = "DIGEST_INVALID"
MANIFEST_BLOB_UNKNOWN = "MANIFEST_BLOB_UNKNOWN"
MANIFEST_INVALID = "MANIFEST_INVALID"
MANIFEST_UNKNOWN = "MANIFEST_UNKNOWN"
NAME_INVALID = "NAME_INVALID"
NAME_UNKNOWN = "NAME_UNKNOWN"
SIZE_INVALID = "SIZE_INVALID"
TAG_INVALID = "TAG_INVALID"
UNAUTHORIZED = "UNAUTHORIZED"
DENIED = "DENIED"
UNSUPPORTED = "UNSUPPORTED"
PAGINATION_NUMBER_INVALID = "PAGINATION_NUMBER_INVALID"
RANGE_INVALID = "RANGE_INVALID"
UNKNOWN = "UNKNOWN"


class OCIError(Exception):
    """A registry failure reported with an HTTP status and a distribution error code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> Response:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        headers = {API_VERSION_HEADER: API_VERSION, **self.headers}
        return JSONResponse({"errors": [entry]}, status_code=self.status, headers=headers)


def denied(headers: dict[str, str] | None = None) -> OCIError:
    # One wording for "forbidden" and "no such repository": a caller without read rights must
    # not learn which repositories exist.
    return OCIError(403, DENIED, "requested access to the resource is denied", headers=headers)


def digest_invalid(message: str = "provided digest did not match uploaded content") -> OCIError:
    return OCIError(400, DIGEST_INVALID, message)


def blob_unknown(digest: str) -> OCIError:
    return OCIError(404, BLOB_UNKNOWN, "blob unknown to registry", {"digest": digest})


def upload_unknown() -> OCIError:
    return OCIError(404, BLOB_UPLOAD_UNKNOWN, "blob upload unknown to registry")


def manifest_unknown(reference: str) -> OCIError:
    return OCIError(404, MANIFEST_UNKNOWN, "manifest unknown", {"reference": reference})


def name_unknown(name: str) -> OCIError:
    return OCIError(404, NAME_UNKNOWN, "repository name not known to registry", {"name": name})
