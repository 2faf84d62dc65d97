"""OpenAPI 3.0.3 document of the Manage API, so generated gateways can be run against this backend.

Operation ids are the official SDK's (`ListNamespaces`, `ListReposDetails`, ...) and schema names
follow its models. Response links let a generator such as GraphQL Mesh walk from an
organization to its repositories and from a repository to its tags.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from swrlocal.manage import names, repositories, tags

JSON = "application/json"
Schema = dict[str, Any]


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def s(description: str = "", **extra: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def i(description: str = "") -> Schema:
    return {"type": "integer", "format": "int64", **({"description": description}
                                                      if description else {})}


BOOL: Schema = {"type": "boolean"}
TIME = s("RFC 3339 UTC", format="date-time")
CATEGORY = s("image category", enum=list(names.CATEGORIES))

SCHEMAS: dict[str, Schema] = {
    "ErrorDetail": obj({"error_code": s(), "error_msg": s()}),
    "LegacyError": obj({"errorCode": s(), "errorMessage": s(), "detail": s()}),
    "ErrorResponse": obj({
        "error_code": s("SWR error code, e.g. SVCSTG.SWR.4001025"),
        "error_msg": s(),
        "details": {"type": "array", "items": ref("schemas", "ErrorDetail")},
        "errors": {"type": "array", "items": ref("schemas", "LegacyError")},
    }, ["error_code", "error_msg"]),
    "VersionDetail": obj({
        "id": s("version id, v2"),
        "links": obj({"href": s(), "rel": s()}),
        "version": s("highest micro-version"),
        "min_version": s("lowest micro-version"),
        "status": s(enum=["CURRENT", "SUPPORTED", "DEPRECATED"]),
        "updated": s("release time"),
    }),
    "ListApiVersionsResponse": obj({
        "versions": {"type": "array", "items": ref("schemas", "VersionDetail")},
    }),
    "ShowApiVersionResponse": obj({"version": ref("schemas", "VersionDetail")}),
    "CreateNamespaceRequestBody": obj({"namespace": s("organization name")}, ["namespace"]),
    "ShowNamespace": obj({
        "id": i("organization id"),
        "name": s("organization name"),
        "creator_name": s("user name of the creator"),
        "auth": {"type": "integer", "description": "the caller's level: 7 manage, 3 edit, 1 read"},
    }),
    "ListNamespacesResponse": obj({
        "namespaces": {"type": "array", "items": ref("schemas", "ShowNamespace")},
    }),
    "CreateRepoRequestBody": obj({
        "repository": s("repository name; may contain /"),
        "is_public": BOOL,
        "category": CATEGORY,
        "description": s(maxLength=repositories.MAX_DESCRIPTION),
    }, ["repository", "is_public"]),
    "UpdateRepoRequestBody": obj({
        "is_public": BOOL,
        "category": CATEGORY,
        "description": s(maxLength=repositories.MAX_DESCRIPTION),
    }),
    "ShowRepositoryResponse": obj({
        "id": i(), "ns_id": i(), "name": s(), "category": s(), "description": s(),
        "creator_id": s(), "creator_name": s(), "size": i("bytes"), "is_public": BOOL,
        "num_images": i("number of tags"), "num_download": i(), "url": s(),
        "path": s("external pull address"), "internal_path": s("internal pull address"),
        "created": TIME, "updated": TIME, "domain_id": s(), "priority": {"type": "integer"},
    }),
    "ShowReposResp": obj({
        "name": s(), "category": s(), "description": s(), "size": i("bytes"),
        "is_public": BOOL, "num_images": i(), "num_download": i(), "created_at": TIME,
        "updated_at": TIME, "logo": s(), "url": s(), "path": s(), "internal_path": s(),
        "domain_name": s("owning account"), "namespace": s("organization name"),
        "tags": {"type": "array", "items": s()},
        "status": BOOL, "total_range": i("total number of matching records"),
    }),
    "CreateRepoTagRequestBody": obj({
        "source_tag": s(), "destination_tag": s(), "override": BOOL,
    }, ["source_tag", "destination_tag"]),
}


def _tag_schema(*, listed: bool) -> Schema:
    properties: dict[str, Schema] = {
        "id": i(), "repo_id": i(), ("Tag" if listed else "tag"): s("tag name"),
        "image_id": s("config digest hex"), "manifest": s("manifest JSON as a string"),
        "digest": s(), "schema": i("manifest schema version"), "path": s(),
        "internal_path": s(), "size": i("bytes"), "is_trusted": BOOL, "created": TIME,
        "updated": TIME, "domain_id": s(), "tag_type": i("0 manifest, 1 manifest list"),
    }
    if listed:
        properties["deleted"] = {**s(), "nullable": True}
        properties["scanned"] = BOOL
    return obj(properties)


SCHEMAS["ShowReposTagResp"] = _tag_schema(listed=True)
SCHEMAS["ShowRepoTagResponse"] = _tag_schema(listed=False)


def path_param(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": s()}


def query_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or s()}


PARAMETERS: dict[str, Schema] = {
    "namespace": path_param("namespace", "organization name"),
    "repository": path_param("repository", "repository name, each / written as $"),
    "tag": path_param("tag", "tag name"),
    "filter": query_param("filter", "key::value pairs joined by |; wins over the separate "
                                    "parameters"),
    "limit": query_param("limit", "page size, 1 to 1000 (default 100)", s(pattern="^[0-9]+$")),
    "offset": query_param("offset", "start index", s(pattern="^[0-9]+$")),
    "order_type": query_param("order_type", "asc or desc", s(enum=["asc", "desc"])),
}

ERRORS = {
    "400": "invalid request", "401": "missing or invalid token",
    "403": "insufficient permission", "404": "not found",
    "406": "organization still holds repositories", "409": "already exists",
    "413": "description too long",
}

CONTENT_RANGE = {"Content-Range": {
    "description": "<offset>-<count>/<total>; sent only when offset and limit were given",
    "schema": s(),
}}


def json_body(schema: str) -> Schema:
    return {"required": True, "content": {JSON: {"schema": ref("schemas", schema)}}}


def ok(schema: Schema, description: str = "OK", **extra: Any) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def operation(op_id: str, summary: str, responses: dict[str, Schema], errors: str,
              **extra: Any) -> Schema:
    """One operation; `errors` lists the error statuses it documents, e.g. "400 401 404"."""
    for status in errors.split():
        responses[status] = ref("responses", f"Error{status}")
    return {"operationId": op_id, "summary": summary, "responses": responses, **extra}


def array_of(schema: str) -> Schema:
    return {"type": "array", "items": ref("schemas", schema)}


REPOS_OF_NAMESPACE = {"ReposOfNamespace": {
    "operationId": "ListReposDetails",
    "parameters": {"namespace": "$response.body#/name"},
    "description": "repositories of this organization",
}}
TAGS_OF_LISTED_REPO = {"TagsOfRepository": {
    "operationId": "ListRepositoryTags",
    "parameters": {"namespace": "$response.body#/namespace",
                   "repository": "$response.body#/name"},
    "description": "tags of each listed repository (a name with / must be sent with $)",
}}
TAGS_OF_SHOWN_REPO = {"TagsOfRepository": {
    "operationId": "ListRepositoryTags",
    "parameters": {"namespace": "$request.path.namespace",
                   "repository": "$request.path.repository"},
    "description": "tags of this repository",
}}


def _version_paths() -> dict[str, Schema]:
    return {
        "/": {"get": operation(
            "ListApiVersions", "API versions",
            {"200": ok(ref("schemas", "ListApiVersionsResponse"))}, "", security=[],
        )},
        "/{api_version}": {"get": operation(
            "ShowApiVersion", "one API version",
            {"200": ok(ref("schemas", "ShowApiVersionResponse"))}, "401 404",
            parameters=[path_param("api_version", "e.g. v2")],
        )},
    }


def _namespace_paths() -> dict[str, Schema]:
    namespace = [ref("parameters", "namespace")]
    return {
        "/v2/manage/namespaces": {
            "post": operation(
                "CreateNamespace", "create an organization",
                {"201": {"description": "created"}}, "400 401 409",
                requestBody=json_body("CreateNamespaceRequestBody"),
            ),
            "get": operation(
                "ListNamespaces", "organizations the caller has a permission on",
                {"200": ok(ref("schemas", "ListNamespacesResponse"))}, "400 401",
                parameters=[
                    query_param("namespace", "exact organization name"),
                    ref("parameters", "filter"),
                ],
            ),
        },
        "/v2/manage/namespaces/{namespace}": {
            "parameters": namespace,
            "get": operation(
                "ShowNamespace", "one organization",
                {"200": ok(ref("schemas", "ShowNamespace"), links=REPOS_OF_NAMESPACE)},
                "400 401 404",
            ),
            "delete": operation(
                "DeleteNamespaces", "delete an empty organization",
                {"204": {"description": "deleted"}}, "400 401 403 404 406",
            ),
        },
    }


def _repository_list_parameters() -> list[Schema]:
    columns = list(repositories.ORDER_COLUMNS)
    return [
        query_param("namespace", "organization name (exact; substring inside filter)"),
        query_param("name", "repository name substring, / written as $"),
        query_param("category", "category", CATEGORY),
        query_param("is_public", "true or false", s(enum=["true", "false"])),
        ref("parameters", "limit"), ref("parameters", "offset"),
        query_param("order_column", "sort column", s(enum=columns)),
        ref("parameters", "order_type"), ref("parameters", "filter"),
    ]


def _repository_paths() -> dict[str, Schema]:
    repo = [ref("parameters", "namespace"), ref("parameters", "repository")]
    return {
        "/v2/manage/namespaces/{namespace}/repos": {
            "parameters": [ref("parameters", "namespace")],
            "post": operation(
                "CreateRepo", "create a repository",
                {"200": {"description": "created"}}, "400 401 403 404 409 413",
                requestBody=json_body("CreateRepoRequestBody"),
            ),
        },
        "/v2/manage/repos": {"get": operation(
            "ListReposDetails", "repositories of the caller's organizations",
            {"200": ok(array_of("ShowReposResp"), headers=CONTENT_RANGE,
                       links=TAGS_OF_LISTED_REPO)},
            "400 401", parameters=_repository_list_parameters(),
        )},
        "/v2/manage/namespaces/{namespace}/repos/{repository}": {
            "parameters": repo,
            "get": operation(
                "ShowRepository", "one repository",
                {"200": ok(ref("schemas", "ShowRepositoryResponse"), links=TAGS_OF_SHOWN_REPO)},
                "400 401 404",
            ),
            "patch": operation(
                "UpdateRepo", "change is_public, category or description",
                {"201": {"description": "updated"}}, "400 401 403 404 413",
                requestBody=json_body("UpdateRepoRequestBody"),
            ),
            "delete": operation(
                "DeleteRepo", "delete a repository and its tags",
                {"204": {"description": "deleted"}}, "400 401 403 404",
            ),
        },
    }


def _tag_paths() -> dict[str, Schema]:
    repo = [ref("parameters", "namespace"), ref("parameters", "repository")]
    base = "/v2/manage/namespaces/{namespace}/repos/{repository}/tags"
    return {
        base: {
            "parameters": repo,
            "get": operation(
                "ListRepositoryTags", "tags of a repository",
                {"200": ok(array_of("ShowReposTagResp"), headers=CONTENT_RANGE)},
                "400 401 404",
                parameters=[
                    ref("parameters", "limit"), ref("parameters", "offset"),
                    query_param("order_column", "sort column",
                                s(enum=list(tags.ORDER_COLUMNS))),
                    ref("parameters", "order_type"),
                    query_param("tag", "tag name substring"), ref("parameters", "filter"),
                ],
            ),
            "post": operation(
                "CreateRepoTag", "point a new tag at the image of an existing one",
                {"201": {"description": "created"}}, "400 401 403 404 409",
                requestBody=json_body("CreateRepoTagRequestBody"),
            ),
        },
        base + "/{tag}": {
            "parameters": [*repo, ref("parameters", "tag")],
            "get": operation(
                "ShowRepoTag", "one tag",
                {"200": ok(ref("schemas", "ShowRepoTagResponse"))}, "400 401 404",
            ),
            "delete": operation(
                "DeleteRepoTag", "delete a tag",
                {"204": {"description": "deleted"}}, "400 401 403 404",
            ),
        },
    }


def document(server_url: str) -> dict[str, Any]:
    """The whole document, with `server_url` as the one server."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "SWR Manage API (swr-local)", "version": "2.26"},
        "servers": [{"url": server_url}],
        "security": [{"XAuthToken": []}],
        "paths": {**_version_paths(), **_namespace_paths(), **_repository_paths(),
                  **_tag_paths()},
        "components": {
            "securitySchemes": {
                "XAuthToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            },
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": {
                f"Error{status}": ok(ref("schemas", "ErrorResponse"), text)
                for status, text in ERRORS.items()
            },
        },
    }


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(document(str(request.base_url).rstrip("/")))
