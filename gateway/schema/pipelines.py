"""ContainerOps: pipeline groups, templates, pipelines, stages, step executions (jobs) and logs.

Global ids: `PipelineGroup:<group name>`, `PipelineTemplate:<template id>`,
`Pipeline:<pipeline id>`, `Job:<pipeline id>/<stage index>/<job id>`. Free-form parts of a
definition (stage `params`, resources, `pre_operation`, exception handlers) are `JSON`, in the
contract's own snake_case shape (10.3), so a definition round-trips unchanged.

`Pipeline` merges the list and show shapes like `Repository`: fields only the show call returns
(`run`, `params`, `triggers`, ...) load the pipeline by id when the object came from a list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from functools import partial
from typing import TypeVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from gateway.backend.containerops import ContainerOpsClient, LogPage, PipelineQuery
from gateway.backend.models import Json, Page
from gateway.schema.errors import UserInputError
from gateway.schema.node import load_or_none
from gateway.schema.pagination import NODES_DOC, build_connection, page_window
from gateway.schema.pipeline_loaders import LogQuery, TemplateQuery
from gateway.schema.scalars import DateTime, Long
from gateway.schema.types import Info

EN = TypeVar("EN", bound=Enum)
ALL = "*"
LATEST = "latest"
JOB_ID_RE = re.compile(r"[0-9a-f]{32}")  # docs/containerops.md: job ids are 32 hex characters


# -- enums ---------------------------------------------------------------------------------


@strawberry.enum(description="State of one step execution (job).")
class JobState(Enum):
    BUILDING = "Building"
    WAITING = "Waiting"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    TIMEOUT = "Timeout"
    CANCEL = "Cancel"
    UNKNOWN = "unknown"


@strawberry.enum(description="Status of a pipeline's latest run (contract 10.3).")
class PipelineRunStatus(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    CANCEL = "cancel"
    ROLLBACKING = "rollbacking"
    ROLLBACK_SUCCESS = "rollback_success"
    STAGE_EXCEPTION = "stage_exception"
    RUNTIME_EXCEPTION = "runtime_exception"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    ROLLBACK_FAILED = "rollback_failed"
    ROLLBACK_EXCEPTION = "rollback_exception"
    UNKNOWN = "unknown"


@strawberry.enum(description="What a stage does (`service_name`).")
class StageService(Enum):
    CODE_SOURCE = "code_source"
    JENKINS_BUILD = "jenkins_build"
    DOCKERFILE_BUILD = "dockerfile_build"
    TEST_REVIEW = "test_review"
    OFFICIAL_DEPLOY = "official_deploy"
    GRAY_DEPLOY = "gray_deploy"
    UNKNOWN = "unknown"


@strawberry.enum
class TemplateCategory(Enum):
    SAMPLE_TEMPLATE = "sample_template"
    MY_TEMPLATE = "my_template"
    UNKNOWN = "unknown"


@strawberry.enum(description="A reviewer's answer; `WAITING` until given.")
class ReviewResult(Enum):
    PASS = "pass"
    REFUSE = "refuse"
    WAITING = "waiting"
    UNKNOWN = "unknown"


@strawberry.enum(description="The answer to give to a review step.")
class ReviewDecision(Enum):
    PASS = "pass"
    REFUSE = "refuse"


def member(kind: type[EN], value: object) -> EN:
    """The enum member for a backend value; `UNKNOWN` for values this gateway does not know."""
    try:
        return kind(value)
    except ValueError:
        return kind("unknown")


def maybe_member(kind: type[EN], value: object) -> EN | None:
    return None if value is None else member(kind, value)


# -- groups --------------------------------------------------------------------------------


@strawberry.type(description="A pipeline group: a folder of pipelines.")
class PipelineGroup(relay.Node):
    key: relay.NodeID[str]
    name: str
    database_id: Long | None
    description: str
    pipeline_count: int | None = strawberry.field(description="Set when read from a list.")

    @classmethod
    def from_json(cls, data: Json) -> PipelineGroup:
        name = str(data.get("group", ""))
        return cls(key=name, name=name, database_id=data.get("id"),
                   description=data.get("description") or "",
                   pipeline_count=data.get("pipeline_count"))

    @strawberry.field(description="Pipelines of this group.")
    async def pipelines(self, info: Info, first: int | None = None, after: str | None = None
                        ) -> PipelineConnection:
        return await load_pipelines(info, PipelineFilter(group_name=self.name), first, after)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False
                            ) -> list[PipelineGroup | None]:
        page = await info.context.loaders.pipelines.groups.load(ALL)
        by_name = {item.get("group"): item for item in page.items}
        return [PipelineGroup.from_json(by_name[n]) if n in by_name else None for n in node_ids]


@strawberry.type
class PipelineGroupConnection(relay.Connection[PipelineGroup]):
    nodes: list[PipelineGroup] = strawberry.field(description=NODES_DOC)
    total_count: int


# -- templates -----------------------------------------------------------------------------


@strawberry.type
class PipelineLabel:
    database_id: Long | None
    name: str
    describe: str


@strawberry.type(description="A stage of a template as listed (`params` come with details).")
class TemplateStage:
    name: str
    service_name: StageService
    is_task: bool | None


@strawberry.type(description="A pipeline template: a sample, or one of the account's own.")
class PipelineTemplate(relay.Node):
    key: relay.NodeID[str]
    database_id: Long | None
    name: str
    description: str
    category: TemplateCategory
    type_ch: str
    type_en: str
    labels: list[PipelineLabel]
    stages: list[TemplateStage]
    created_at: DateTime | None
    updated_at: DateTime | None
    data: strawberry.Private[Json]

    @classmethod
    def from_json(cls, data: Json) -> PipelineTemplate:
        get = data.get
        return cls(
            key=str(get("id", "")), database_id=get("id"), name=get("name", ""),
            description=get("description") or "",
            category=member(TemplateCategory, get("template_category")),
            type_ch=get("template_type_ch") or "", type_en=get("template_type_en") or "",
            labels=[PipelineLabel(database_id=x.get("id"), name=str(x.get("name", "")),
                                  describe=x.get("describe") or "")
                    for x in get("pipeline_labels") or []],
            stages=[TemplateStage(name=s.get("name", ""),
                                  service_name=member(StageService, s.get("service_name")),
                                  is_task=s.get("is_task"))
                    for s in get("stages") or []],
            created_at=get("created_at"), updated_at=get("updated_at"), data=data,
        )

    async def _details(self, info: Info) -> Json:
        if "params" in self.data:
            return self.data
        return await info.context.loaders.pipelines.template_by_id.load(self.key)

    @strawberry.field(description="Parameters, in the contract's shape.")
    async def params(self, info: Info) -> JSON:
        return (await self._details(info)).get("params") or []

    @strawberry.field(description="Triggers, in the contract's shape.")
    async def pre_operation(self, info: Info) -> JSON:
        return (await self._details(info)).get("pre_operation") or {}

    @strawberry.field(description="Full stage definitions, in the contract's shape.")
    async def stage_definitions(self, info: Info) -> JSON:
        return (await self._details(info)).get("stages") or []

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False
                            ) -> list[PipelineTemplate | None]:
        return [await template_or_none(info, key, required) for key in node_ids]


async def template_or_none(info: Info, template_id: str, required: bool
                           ) -> PipelineTemplate | None:
    if not template_id.isdigit():
        raise UserInputError(f"invalid template id: {template_id!r}")
    data = await load_or_none(
        info.context.loaders.pipelines.template_by_id.load(template_id), required)
    return None if data is None else PipelineTemplate.from_json(data)


@strawberry.type
class PipelineTemplateConnection(relay.Connection[PipelineTemplate]):
    nodes: list[PipelineTemplate] = strawberry.field(description=NODES_DOC)
    total_count: int


# -- jobs and logs -------------------------------------------------------------------------


@strawberry.type(description="One line of a step's log.")
class LogLine:
    offset: int = strawberry.field(description="0-based position in the job's log.")
    content: str
    created_at: DateTime | None


@strawberry.type(description="One execution of a stage (a step run).")
class Job(relay.Node):
    key: relay.NodeID[str]
    job_id: str = strawberry.field(description="The backend's job id.")
    pipeline_id: str
    stage_index: int
    state: JobState
    progress: int
    duration: Long = strawberry.field(description="Milliseconds, up to now while running.")
    mode: str | None = strawberry.field(description="`run`, `retry` or `rollback`.")
    run_id: str | None
    creator_id: str | None
    creator_name: str | None
    created_at: DateTime | None
    log_num: int = strawberry.field(description="Number of log lines so far.")

    @classmethod
    def from_json(cls, pipeline_id: str, stage_index: int, data: Json) -> Job:
        job_id = str(data.get("id", ""))
        get = data.get
        return cls(
            key=f"{pipeline_id}/{stage_index}/{job_id}", job_id=job_id, pipeline_id=pipeline_id,
            stage_index=stage_index, state=member(JobState, get("state")),
            progress=get("progress") or 0, duration=get("duration") or 0, mode=get("mode"),
            run_id=get("run_id"), creator_id=get("creator_id"),
            creator_name=get("creator_name"), created_at=get("created_at"),
            log_num=get("log_num") or 0,
        )

    @strawberry.field(description="The job's log lines; `after` is a line's cursor.")
    async def log(self, info: Info, first: int | None = None, after: str | None = None
                  ) -> LogLineConnection:
        return await load_log(info, self.pipeline_id, self.stage_index, self.job_id, first,
                              after)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False
                            ) -> list[Job | None]:
        return [await job_or_none(info, *split_job_key(key), required) for key in node_ids]


def split_job_key(key: str) -> tuple[str, int, str]:
    parts = key.split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not all(parts):
        raise UserInputError(f"invalid job id: {key!r}")
    return parts[0], int(parts[1]), parts[2]


async def job_or_none(info: Info, pipeline_id: str, stage_index: int, job_id: str,
                      required: bool) -> Job | None:
    query = LogQuery(pipeline_id, check_index(stage_index), check_job_id(job_id), 0, 1)
    page: LogPage | None = await load_or_none(
        info.context.loaders.pipelines.log_page_by_query.load(query), required)
    return None if page is None else Job.from_json(pipeline_id, stage_index, page.job)


@strawberry.type
class JobConnection(relay.Connection[Job]):
    nodes: list[Job] = strawberry.field(description=NODES_DOC)
    total_count: int


@strawberry.type
class LogLineConnection(relay.Connection[LogLine]):
    nodes: list[LogLine] = strawberry.field(description=NODES_DOC)
    total_count: int = strawberry.field(description="Lines in the whole log so far.")
    job: Job = strawberry.field(description="The job, as it was when the lines were read.")


def check_index(stage_index: int) -> int:
    if stage_index < 0:
        raise UserInputError(f"stageIndex must be 0 or more, got {stage_index}")
    return stage_index


def check_job_id(job_id: str) -> str:
    """`latest` or a backend job id (32 hex characters): the id becomes a URL path segment."""
    if job_id != LATEST and not JOB_ID_RE.fullmatch(job_id):
        raise UserInputError(f"jobId must be 'latest' or 32 hex characters, got {job_id!r}")
    return job_id


def check_offset(offset: int) -> int:
    if offset < 0:
        raise UserInputError(f"fromOffset must be 0 or more, got {offset}")
    return offset


async def load_log(info: Info, pipeline_id: str, stage_index: int, job_id: str,
                   first: int | None, after: str | None) -> LogLineConnection:
    offset, limit = page_window(first, after)
    query = LogQuery(pipeline_id, check_index(stage_index), check_job_id(job_id), offset,
                     max(limit, 1))
    log: LogPage = await info.context.loaders.pipelines.log_page_by_query.load(query)
    items = [{**line, "offset": offset + i} for i, line in enumerate(log.lines)]
    job = Job.from_json(pipeline_id, stage_index, log.job)
    return build_connection(partial(LogLineConnection, job=job),  # type: ignore[arg-type]
                            Page(items, offset, log.total), limit, _log_line)


def _log_line(item: Json) -> LogLine:
    return LogLine(offset=item["offset"], content=item.get("content", ""),
                   created_at=item.get("created_at"))


async def load_jobs(info: Info, pipeline_id: str, stage_index: int, first: int | None,
                    after: str | None) -> JobConnection:
    """The backend returns the whole history (newest first); the gateway slices it."""
    offset, limit = page_window(first, after)
    jobs = await info.context.loaders.pipelines.jobs_by_stage.load(
        (pipeline_id, check_index(stage_index)))
    page = Page(items=jobs[offset:offset + limit], offset=offset, total=len(jobs))
    return build_connection(JobConnection, page, limit,
                            lambda item: Job.from_json(pipeline_id, stage_index, item))


# -- pipelines -----------------------------------------------------------------------------


@strawberry.type
class PipelineParam:
    name: str
    value: str | None
    description: str | None


@strawberry.type(description="A webhook trigger of a pipeline or of one stage.")
class Trigger:
    webhook_url: str | None
    method: str | None
    signature: str | None = strawberry.field(description="`hmac-sha256` or `none`.")
    channel: str | None
    param_converts: JSON = strawberry.field(description="`pipeline_param_converts` as sent.")

    @classmethod
    def from_json(cls, data: Json) -> Trigger:
        hook = data.get("webhook") or {}
        return cls(webhook_url=hook.get("url"), method=hook.get("method"),
                   signature=hook.get("signature"),
                   channel=(data.get("channel") or {}).get("name"),
                   param_converts=data.get("pipeline_param_converts") or [])


def triggers_of(pre_operation: Json | None) -> list[Trigger]:
    return [Trigger.from_json(t) for t in (pre_operation or {}).get("triggers") or []]


@strawberry.type
class ReviewVote:
    user_name: str
    result: ReviewResult


@strawberry.type(description="A stage's latest job in the pipeline's latest run.")
class StageRunState:
    index: int
    state: JobState | None = strawberry.field(description="Null when the stage has not run.")
    start_time: DateTime | None
    end_time: DateTime | None
    reviews: list[ReviewVote]


@strawberry.type(description="The pipeline's latest run (`status` of the show call).")
class PipelineRun:
    pipeline_id: str
    status: PipelineRunStatus
    run_id: str | None
    stage_index: int
    created_time: DateTime | None
    updated_time: DateTime | None
    start_time: DateTime | None
    end_time: DateTime | None
    stages: list[StageRunState]

    @classmethod
    def from_json(cls, pipeline_id: str, data: Json) -> PipelineRun:
        get = data.get
        return cls(
            pipeline_id=pipeline_id, status=member(PipelineRunStatus, get("status")),
            run_id=get("run_id"), stage_index=get("stage_index") or 0,
            created_time=get("created_time"), updated_time=get("updated_time"),
            start_time=get("start_time"), end_time=get("end_time"),
            stages=[_stage_state(i, s) for i, s in enumerate(get("stages") or [])],
        )


def _stage_state(index: int, data: Json) -> StageRunState:
    votes = (data.get("state") or {}).get("review_results") or []
    return StageRunState(
        index=index, state=maybe_member(JobState, data.get("status")),
        start_time=data.get("start_time"), end_time=data.get("end_time"),
        reviews=[ReviewVote(user_name=v.get("user_name", ""),
                            result=member(ReviewResult, v.get("result"))) for v in votes],
    )


@strawberry.type(description="One stage of a pipeline's definition.")
class Stage:
    pipeline_id: str
    index: int = strawberry.field(description="0-based position: the `stageIndex` of calls.")
    stage_id: str | None = strawberry.field(description="The backend's stage id.")
    name: str
    service_name: StageService
    params: JSON
    exception_handler: JSON | None
    input_resources: JSON | None
    output_resources: JSON | None
    pre_operation: JSON | None
    post_operation: JSON | None

    @classmethod
    def from_json(cls, pipeline_id: str, index: int, data: Json) -> Stage:
        get = data.get
        return cls(
            pipeline_id=pipeline_id, index=index, stage_id=get("id"), name=get("name", ""),
            service_name=member(StageService, get("service_name")), params=get("params") or {},
            exception_handler=get("exception_handler"),
            input_resources=get("input_resources"), output_resources=get("output_resources"),
            pre_operation=get("pre_operation"), post_operation=get("post_operation"),
        )

    @strawberry.field(description="Webhook triggers of this stage.")
    def triggers(self) -> list[Trigger]:
        return triggers_of(self.pre_operation)  # type: ignore[arg-type]

    @strawberry.field(description="Executions of this stage, newest first.")
    async def jobs(self, info: Info, first: int | None = None, after: str | None = None
                   ) -> JobConnection:
        return await load_jobs(info, self.pipeline_id, self.index, first, after)


@strawberry.type(description="A ContainerOps pipeline.")
class Pipeline(relay.Node):
    key: relay.NodeID[str]
    pipeline_id: str = strawberry.field(description="The backend's pipeline id.")
    name: str
    description: str
    group_name: str
    group_id: Long | None
    source: str | None
    status: PipelineRunStatus = strawberry.field(description="Status of the latest run.")
    stages: list[Stage]
    data: strawberry.Private[Json]

    @classmethod
    def from_json(cls, data: Json) -> Pipeline:
        pid, get = str(data.get("id", "")), data.get
        status = get("status")
        status_text = status.get("status") if isinstance(status, dict) else status
        return cls(
            key=pid, pipeline_id=pid, name=get("name", ""), description=get("description") or "",
            group_name=get("group_name", ""), group_id=get("group_id"), source=get("source"),
            status=member(PipelineRunStatus, status_text),
            stages=[Stage.from_json(pid, i, s) for i, s in enumerate(get("stages") or [])],
            data=data,
        )

    async def _shown(self, info: Info) -> Json:
        if isinstance(self.data.get("status"), dict):
            return self.data
        return await info.context.loaders.pipelines.pipeline_by_id.load(self.pipeline_id)

    @strawberry.field(description="The group holding this pipeline.")
    async def group(self, info: Info) -> PipelineGroup:
        page = await info.context.loaders.pipelines.groups.load(ALL)
        found = next((g for g in page.items if g.get("group") == self.group_name), None)
        return PipelineGroup.from_json(found or {"group": self.group_name, "id": self.group_id})

    @strawberry.field(description="The latest run: status, current stage, per-stage states.")
    async def run(self, info: Info) -> PipelineRun:
        return PipelineRun.from_json(self.pipeline_id, (await self._shown(info))["status"])

    @strawberry.field
    async def params(self, info: Info) -> list[PipelineParam]:
        return [PipelineParam(name=p.get("name", ""), value=p.get("value"),
                              description=p.get("description"))
                for p in (await self._shown(info)).get("params") or []]

    @strawberry.field(description="Pipeline-level webhook triggers.")
    async def triggers(self, info: Info) -> list[Trigger]:
        return triggers_of((await self._shown(info)).get("pre_operation"))

    @strawberry.field(description="`post_operation` (notifications), as sent.")
    async def post_operation(self, info: Info) -> JSON | None:
        return (await self._shown(info)).get("post_operation")

    @strawberry.field
    async def creator_name(self, info: Info) -> str | None:
        return (await self._shown(info)).get("creator_name")

    @strawberry.field
    async def created_at(self, info: Info) -> DateTime | None:
        return (await self._shown(info)).get("created_at")

    @strawberry.field
    async def updated_at(self, info: Info) -> DateTime | None:
        return (await self._shown(info)).get("updated_at")

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False
                            ) -> list[Pipeline | None]:
        return [await pipeline_or_none(info, key, required) for key in node_ids]


async def pipeline_or_none(info: Info, pipeline_id: str, required: bool) -> Pipeline | None:
    if not pipeline_id or "/" in pipeline_id:
        raise UserInputError(f"invalid pipeline id: {pipeline_id!r}")
    data = await load_or_none(
        info.context.loaders.pipelines.pipeline_by_id.load(pipeline_id), required)
    return None if data is None else Pipeline.from_json(data)


@strawberry.type
class PipelineConnection(relay.Connection[Pipeline]):
    nodes: list[Pipeline] = strawberry.field(description=NODES_DOC)
    total_count: int


@strawberry.input(description="Narrow the pipeline list; all given criteria must match.")
class PipelineFilter:
    name: str | None = strawberry.field(default=None, description="Substring, any case.")
    group_id: Long | None = None
    group_name: str | None = strawberry.field(default=None, description="Exact group name.")


async def load_pipelines(info: Info, filter: PipelineFilter | None, first: int | None,
                         after: str | None) -> PipelineConnection:
    offset, limit = page_window(first, after)
    f = filter or PipelineFilter()
    query = PipelineQuery(name=f.name or None,
                          group_id=None if f.group_id is None else str(f.group_id),
                          group_name=f.group_name or None, offset=offset, limit=max(limit, 1))
    page = await info.context.loaders.pipelines.pipeline_page_by_query.load(query)
    return build_connection(PipelineConnection, page, limit, Pipeline.from_json)


# -- queries -------------------------------------------------------------------------------


@strawberry.type
class PipelineQueries:
    @strawberry.field(description="The caller's pipeline groups.")
    async def pipeline_groups(self, info: Info, first: int | None = None,
                              after: str | None = None) -> PipelineGroupConnection:
        offset, limit = page_window(first, after)
        whole = await info.context.loaders.pipelines.groups.load(ALL)
        page = Page(whole.items[offset:offset + limit], offset, len(whole.items))
        return build_connection(PipelineGroupConnection, page, limit, PipelineGroup.from_json)

    @strawberry.field(description="Sample templates and the caller's own.")
    async def pipeline_templates(
        self, info: Info, category: TemplateCategory | None = None, label: str | None = None,
        first: int | None = None, after: str | None = None,
    ) -> PipelineTemplateConnection:
        offset, limit = page_window(first, after)
        query = TemplateQuery(category.value if category else None, label or None, offset,
                              max(limit, 1))
        page = await info.context.loaders.pipelines.template_page_by_query.load(query)
        return build_connection(PipelineTemplateConnection, page, limit,
                                PipelineTemplate.from_json)

    @strawberry.field(description="One template by its backend id; null when absent.")
    async def pipeline_template(self, info: Info, id: str) -> PipelineTemplate | None:
        return await template_or_none(info, id, False)

    @strawberry.field(description="The caller's pipelines.")
    async def pipelines(self, info: Info, filter: PipelineFilter | None = None,
                        first: int | None = None, after: str | None = None
                        ) -> PipelineConnection:
        return await load_pipelines(info, filter, first, after)

    @strawberry.field(description="One pipeline by its backend id; null when absent.")
    async def pipeline(self, info: Info, id: str) -> Pipeline | None:
        return await pipeline_or_none(info, id, False)

    @strawberry.field(description="Executions of one stage, newest first.")
    async def step_jobs(self, info: Info, pipeline_id: str, stage_index: int,
                        first: int | None = None, after: str | None = None) -> JobConnection:
        return await load_jobs(info, pipeline_id, stage_index, first, after)

    @strawberry.field(description="One execution (`jobId` or `latest`); null when absent.")
    async def step_job(self, info: Info, pipeline_id: str, stage_index: int,
                       job_id: str = "latest") -> Job | None:
        return await job_or_none(info, pipeline_id, stage_index, job_id, False)

    @strawberry.field(description="Log lines of one execution (`jobId` or `latest`).")
    async def step_log(self, info: Info, pipeline_id: str, stage_index: int,
                       job_id: str = "latest", first: int | None = None,
                       after: str | None = None) -> LogLineConnection:
        return await load_log(info, pipeline_id, stage_index, job_id, first, after)


def ops_of(info: Info) -> ContainerOpsClient:
    return ContainerOpsClient(info.context.client)
