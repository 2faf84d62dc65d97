"""`ContainerOpsClient`: the `/v3/manage` pipeline API (contract 10.3) over `BackendClient`.

Every call goes through `BackendClient.call`, so it shares the transport, the semaphores, the
error boundary, the metrics and the log line of the Manage API calls. The caller's headers
already ask for `Accept: application/json` (without it ContainerOps answers YAML).

Step logs have a long-poll extension of the embedded backend: `wait=<seconds>` holds the answer
until a line exists at `offset` or the job is no longer active (see swrlocal/containerops/
routes.py, `_lines`). `follow_logs` uses it; the log followers of `gateway.subscriptions` are
its only users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode

from gateway.backend.client import BackendClient, Caller, page_total, segment
from gateway.backend.errors import Unavailable
from gateway.backend.models import Json, Page

ROOT = "/v3/manage"
GROUPS = ROOT + "/pipelinegroups"
GROUP = GROUPS + "/{group}"
TEMPLATES = ROOT + "/pipelinetemplates"
TEMPLATE = TEMPLATES + "/{template_id}"
PIPELINES = ROOT + "/pipelines"
PIPELINE = PIPELINES + "/{pipeline_id}"
STAGE = PIPELINE + "/stages/{stage_index}"
JOBS = STAGE + "/jobs"
LOGS = JOBS + "/{job_id}/logs"
WEBHOOK = ROOT + "/webhooks/{webhook_id}"
MAX_LOG_PAGE = 1000
ACTIVE_JOB_STATES = frozenset({"Building", "Waiting"})


@dataclass(frozen=True, slots=True)
class LogPage:
    """A page of a step's log: lines from `offset`, the job as the backend saw it, the total."""

    job: Json
    lines: list[Json]
    offset: int
    total: int

    @property
    def state(self) -> str:
        return str(self.job.get("state", ""))

    @property
    def finished(self) -> bool:
        return self.state not in ACTIVE_JOB_STATES


@dataclass(frozen=True, slots=True)
class PipelineQuery:
    """Criteria of `GET /v3/manage/pipelines`; hashable, a loader key."""

    name: str | None = None
    group_id: str | None = None
    group_name: str | None = None
    offset: int = 0
    limit: int = 100


class ContainerOpsClient:
    """Typed access to `/v3/manage/...`; cheap to build, holds only the shared client."""

    def __init__(self, client: BackendClient) -> None:
        self._client = client

    # -- groups ----------------------------------------------------------------------------

    async def list_groups(self, caller: Caller, offset: int, limit: int) -> Page:
        return await self._page(caller, GROUPS, GROUPS, {"offset": offset, "limit": limit},
                                offset)

    async def create_group(self, caller: Caller, name: str, description: str) -> Json:
        body = {"group": name, "description": description}
        return cast(Json, await self._client.call(caller, "POST", GROUPS, GROUPS, body=body))

    async def delete_group(self, caller: Caller, name: str) -> None:
        await self._client.call(caller, "DELETE", GROUP, f"{GROUPS}/{segment(name)}")

    # -- templates -------------------------------------------------------------------------

    async def list_templates(
        self, caller: Caller, category: str | None, label: str | None, offset: int, limit: int
    ) -> Page:
        pairs = [f"{k}::{v}" for k, v in (("template_category", category),
                                          ("pipeline_label", label)) if v]
        params: dict[str, object] = {"offset": offset, "limit": limit}
        if pairs:
            params["filter"] = "|".join(pairs)
        return await self._page(caller, TEMPLATES, TEMPLATES, params, offset)

    async def get_template(self, caller: Caller, template_id: str) -> Json:
        path = f"{TEMPLATES}/{segment(template_id)}"
        return cast(Json, await self._client.call(caller, "GET", TEMPLATE, path))

    # -- pipelines -------------------------------------------------------------------------

    async def list_pipelines(self, caller: Caller, query: PipelineQuery) -> Page:
        params = {
            "name": query.name, "group_id": query.group_id, "group_name": query.group_name,
            "offset": query.offset, "limit": query.limit,
        }
        return await self._page(caller, PIPELINES, PIPELINES, params, query.offset)

    async def get_pipeline(self, caller: Caller, pipeline_id: str) -> Json:
        return cast(Json, await self._client.call(caller, "GET", PIPELINE,
                                                  _pipeline_path(pipeline_id)))

    async def create_pipeline(self, caller: Caller, group: str, body: Json) -> Json:
        path = f"{GROUPS}/{segment(group)}/pipelines"
        return cast(Json, await self._client.call(caller, "POST", GROUP + "/pipelines", path,
                                                  body=body))

    async def update_pipeline(self, caller: Caller, pipeline_id: str, body: Json) -> Json:
        path = _pipeline_path(pipeline_id)
        return cast(Json, await self._client.call(caller, "PUT", PIPELINE, path, body=body))

    async def delete_pipeline(self, caller: Caller, pipeline_id: str) -> None:
        await self._client.call(caller, "DELETE", PIPELINE, _pipeline_path(pipeline_id))

    async def start_pipeline(self, caller: Caller, pipeline_id: str, params: dict[str, str]
                             ) -> Json:
        path = _pipeline_path(pipeline_id) + "/start"
        body = {"params": params}
        return cast(Json, await self._client.call(caller, "POST", PIPELINE + "/start", path,
                                                  body=body))

    # -- stages and steps ------------------------------------------------------------------

    async def start_stage(self, caller: Caller, pipeline_id: str, index: int, mode: str
                          ) -> Json:
        """`mode` is `retry` or `rollback` (a rollback also sends `source=rollback::true`)."""
        query: dict[str, str] = {"mode": mode}
        if mode == "rollback":
            query["source"] = "rollback::true"
        path = f"{_stage_path(pipeline_id, index)}/start?{urlencode(query)}"
        return cast(Json, await self._client.call(caller, "POST", STAGE + "/start", path))

    async def review_stage(self, caller: Caller, pipeline_id: str, index: int, result: str
                           ) -> None:
        path = f"{_stage_path(pipeline_id, index)}/start_info"
        body = {"mode": "review", "review_result": result}
        await self._client.call(caller, "PUT", STAGE + "/start_info", path, body=body)

    async def trigger_webhook(self, caller: Caller, webhook_id: str, params: dict[str, str]
                              ) -> Json:
        """Fire a (stage or pipeline) webhook trigger; the webhook itself needs no token."""
        query = f"?{urlencode(params)}" if params else ""
        path = f"{ROOT}/webhooks/{segment(webhook_id)}{query}"
        return cast(Json, await self._client.call(caller, "POST", WEBHOOK, path))

    async def list_jobs(self, caller: Caller, pipeline_id: str, index: int) -> list[Json]:
        data = await self._client.call(caller, "GET", JOBS, _stage_path(pipeline_id, index)
                                       + "/jobs")
        if not isinstance(data, list):
            raise Unavailable("backend sent a non-list body for the step history")
        return cast(list[Json], data)

    async def job_logs(
        self, caller: Caller, pipeline_id: str, index: int, job_id: str, offset: int,
        limit: int, wait: float = 0.0,
    ) -> LogPage:
        """One page of a job's log; `wait > 0` long-polls for a line at `offset`."""
        query: dict[str, object] = {"offset": offset, "limit": min(limit, MAX_LOG_PAGE)}
        if wait > 0:
            query["wait"] = f"{wait:g}"
        path = (f"{_stage_path(pipeline_id, index)}/jobs/{segment(job_id)}/logs?"
                f"{urlencode(query)}")
        headers: dict[str, str] = {}
        data = await self._client.call(caller, "GET", LOGS, path, into=headers)
        if not isinstance(data, dict) or not isinstance(data.get("log"), list):
            raise Unavailable("backend sent an unreadable step log")
        lines = cast(list[Json], data.pop("log"))
        # `log_num` is the job's line count; Content-Range carries the same figure.
        total = data.get("log_num")
        if not isinstance(total, int):
            total = page_total(headers, [], offset + len(lines))
        return LogPage(job=data, lines=lines, offset=offset, total=total)

    # -- helpers ---------------------------------------------------------------------------

    async def _page(self, caller: Caller, route: str, path: str, params: dict[str, object],
                    offset: int) -> Page:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return cast(Page, await self._client.call_page(caller, route, path, query, offset))


def _pipeline_path(pipeline_id: str) -> str:
    return f"{PIPELINES}/{segment(pipeline_id)}"


def _stage_path(pipeline_id: str, index: int) -> str:
    return f"{_pipeline_path(pipeline_id)}/stages/{index}"

