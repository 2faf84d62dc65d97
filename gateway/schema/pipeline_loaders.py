"""Per-request loaders of the ContainerOps API, hung on `Loaders.pipelines`.

Same contract as `gateway.loaders`: one backend call per distinct key, keys of a tick
deduplicated and cached for the request, a failed key's exception in its slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.backend.client import BackendClient, Caller
from gateway.backend.containerops import ContainerOpsClient, LogPage, PipelineQuery
from gateway.backend.models import Json, Page
from gateway.loaders import _PerKeyLoader

MAX_GROUPS = 1000  # groups are read whole (there is no show call) and sliced in the gateway


@dataclass(frozen=True, slots=True)
class TemplateQuery:
    category: str | None
    label: str | None
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class LogQuery:
    pipeline_id: str
    stage_index: int
    job_id: str
    offset: int
    limit: int


class _OpsLoader(_PerKeyLoader):  # type: ignore[type-arg]
    def __init__(self, client: BackendClient, caller: Caller, dedupe: bool = True) -> None:
        super().__init__(client, caller, dedupe)
        self.ops = ContainerOpsClient(client)


class GroupsLoader(_OpsLoader):
    async def fetch(self, key: str) -> Page:
        return await self.ops.list_groups(self.caller, 0, MAX_GROUPS)


class TemplateByIdLoader(_OpsLoader):
    async def fetch(self, key: str) -> Json:
        return await self.ops.get_template(self.caller, key)


class TemplatePageByQueryLoader(_OpsLoader):
    async def fetch(self, key: TemplateQuery) -> Page:
        return await self.ops.list_templates(self.caller, key.category, key.label, key.offset,
                                             key.limit)


class PipelineByIdLoader(_OpsLoader):
    async def fetch(self, key: str) -> Json:
        return await self.ops.get_pipeline(self.caller, key)


class PipelinePageByQueryLoader(_OpsLoader):
    async def fetch(self, key: PipelineQuery) -> Page:
        return await self.ops.list_pipelines(self.caller, key)


class JobsByStageLoader(_OpsLoader):
    """Key: `(pipeline id, stage index)`; the stage's step executions, newest first."""

    async def fetch(self, key: tuple[str, int]) -> list[Json]:
        return await self.ops.list_jobs(self.caller, *key)


class LogPageByQueryLoader(_OpsLoader):
    async def fetch(self, key: LogQuery) -> LogPage:
        return await self.ops.job_logs(self.caller, key.pipeline_id, key.stage_index,
                                       key.job_id, key.offset, key.limit)


class PipelineLoaders:
    def __init__(self, client: BackendClient, caller: Caller, dedupe: bool = True) -> None:
        args = (client, caller, dedupe)
        self.groups = GroupsLoader(*args)
        self.template_by_id = TemplateByIdLoader(*args)
        self.template_page_by_query = TemplatePageByQueryLoader(*args)
        self.pipeline_by_id = PipelineByIdLoader(*args)
        self.pipeline_page_by_query = PipelinePageByQueryLoader(*args)
        self.jobs_by_stage = JobsByStageLoader(*args)
        self.log_page_by_query = LogPageByQueryLoader(*args)

    def clear_all(self) -> None:
        """Called by `Loaders.forget` (mutations), like a loader's own `clear_all`."""
        for loader in vars(self).values():
            loader.clear_all()
