"""Subscriptions: live step logs and pipeline status changes (docs/subscriptions.md).

Both go through the process's `SubscriptionHub` (`app.state.subscriptions`): one backend
reader per job or pipeline, whatever the number of subscribers. The token is the websocket's:
from `connection_init` (`authToken`, `Authorization` or `X-Auth-Token`) or the upgrade request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator

import strawberry

from gateway.schema.pipelines import (
    JobState,
    PipelineRun,
    check_index,
    check_job_id,
    check_offset,
    member,
)
from gateway.schema.scalars import DateTime
from gateway.schema.types import Info
from gateway.subscriptions import LogEvent, LogStream, SubscriptionHub, status_events


@strawberry.type(description="One log line of a step as it is written.")
class StepLogEvent:
    offset: int = strawberry.field(description="0-based position of the line in the job's log.")
    content: str | None = strawberry.field(
        description="The line; null only on the closing event of a job that ended silently.")
    created_at: DateTime | None
    state: JobState = strawberry.field(description="The job's state when the line was read.")
    job_id: str
    final: bool = strawberry.field(description="The last event: the job has finished.")
    # Execution results by (operation, variables), shared by the subscribers of one published
    # line (gateway/schema/execution.py). Sound because every field above is a plain attribute.
    shared_results: strawberry.Private[dict[object, object]] = dataclasses.field(
        default_factory=dict)

    @classmethod
    def of(cls, event: LogEvent) -> StepLogEvent:
        """The event's GraphQL object, built once per published line for all its subscribers."""
        found = event.shared.get(cls)
        if isinstance(found, cls):
            return found
        made = event.shared[cls] = cls(
            offset=event.offset, content=event.content, created_at=event.created_at,
            state=member(JobState, event.state), job_id=event.job_id, final=event.final)
        return made


def hub_of(info: Info) -> SubscriptionHub:
    return info.context.request.app.state.subscriptions  # type: ignore[no-any-return]


@strawberry.type
class PipelineSubscriptions:
    @strawberry.subscription(description=(
        "A step's log from `fromOffset`: every line once, in order, then live; completes"
        " after the last line of a finished job."))
    async def step_log(
        self, info: Info, pipeline_id: str, stage_index: int, job_id: str = "latest",
        from_offset: int = 0,
    ) -> AsyncGenerator[StepLogEvent, None]:
        stream = LogStream(hub_of(info), info.context.caller, pipeline_id,
                           check_index(stage_index), check_job_id(job_id),
                           check_offset(from_offset))
        async for event in stream.events():
            yield StepLogEvent.of(event)

    @strawberry.subscription(description="The pipeline's run status now, then on each change.")
    async def pipeline_status(self, info: Info, pipeline_id: str
                              ) -> AsyncGenerator[PipelineRun, None]:
        async for event in status_events(hub_of(info), info.context.caller, pipeline_id):
            yield PipelineRun.from_json(event.pipeline_id, event.status)
