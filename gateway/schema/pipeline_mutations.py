"""ContainerOps mutations: groups, pipeline definitions, starts, stage retry/rollback/review.

Creates and updates return the object, read back after the change; deletes return the global
id. Starting work returns `PipelineRunPayload`: the pipeline as it is right after the backend
accepted the start, and the id of the run that was started or continued.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from gateway.backend.models import Json
from gateway.schema.errors import UserInputError
from gateway.schema.pipelines import (
    Pipeline,
    PipelineGroup,
    ReviewDecision,
    StageService,
    check_index,
    ops_of,
    pipeline_or_none,
)
from gateway.schema.types import Info


@strawberry.input
class CreatePipelineGroupInput:
    name: str
    description: str = ""


@strawberry.input
class PipelineParamInput:
    name: str
    value: str = ""
    description: str = ""


@strawberry.input(description="A parameter value for one run.")
class ParamValueInput:
    name: str
    value: str


@strawberry.input(description="One stage; JSON fields take the contract's snake_case shape.")
class PipelineStageInput:
    id: str | None = strawberry.field(
        default=None, description="Keep a stage's id on update; without it a stage is added.")
    name: str
    service_name: StageService
    params: JSON
    exception_handler: JSON | None = None
    input_resources: JSON | None = None
    output_resources: JSON | None = None
    pre_operation: JSON | None = None
    post_operation: JSON | None = None


@strawberry.input
class CreatePipelineInput:
    group: str = strawberry.field(description="Name of the pipeline group.")
    name: str
    description: str = ""
    source: str = ""
    params: list[PipelineParamInput] = strawberry.field(default_factory=list)
    pre_operation: JSON | None = None
    post_operation: JSON | None = None
    stages: list[PipelineStageInput]


@strawberry.input(description="Fields left out keep their value.")
class UpdatePipelineInput:
    id: str
    name: str | None = None
    description: str | None = None
    params: list[PipelineParamInput] | None = None
    pre_operation: JSON | None = None
    post_operation: JSON | None = None
    stages: list[PipelineStageInput] | None = None


@strawberry.type
class PipelineRunPayload:
    pipeline: Pipeline
    run_id: str | None


def stage_body(stage: PipelineStageInput) -> Json:
    if stage.service_name is StageService.UNKNOWN:
        raise UserInputError("serviceName UNKNOWN cannot be sent")
    body: Json = {"name": stage.name, "service_name": stage.service_name.value,
                  "params": stage.params}
    optional = {"id": stage.id, "exception_handler": stage.exception_handler,
                "input_resources": stage.input_resources,
                "output_resources": stage.output_resources,
                "pre_operation": stage.pre_operation, "post_operation": stage.post_operation}
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def params_body(params: list[PipelineParamInput]) -> list[Json]:
    return [{"name": p.name, "value": p.value, "description": p.description} for p in params]


def create_body(input: CreatePipelineInput) -> Json:
    body: Json = {"name": input.name, "description": input.description,
                  "source": input.source, "params": params_body(input.params),
                  "stages": [stage_body(s) for s in input.stages]}
    for key, value in (("pre_operation", input.pre_operation),
                       ("post_operation", input.post_operation)):
        if value is not None:
            body[key] = value
    return body


def update_body(current: Json, input: UpdatePipelineInput) -> Json:
    """PUT needs the whole definition: start from the current one, apply the given fields."""
    body = {k: current[k] for k in ("id", "name", "group_id", "group_name", "description",
                                    "source", "params", "pre_operation", "post_operation",
                                    "stages") if k in current}
    changes: dict[str, Any] = {
        "name": input.name, "description": input.description,
        "params": None if input.params is None else params_body(input.params),
        "pre_operation": input.pre_operation, "post_operation": input.post_operation,
        "stages": None if input.stages is None else [stage_body(s) for s in input.stages],
    }
    body.update({k: v for k, v in changes.items() if v is not None})
    return body


async def reload(info: Info, pipeline_id: str) -> Pipeline:
    info.context.loaders.forget()
    pipeline = await pipeline_or_none(info, pipeline_id, True)
    assert pipeline is not None  # required=True raises NotFound instead
    return pipeline


async def run_payload(info: Info, pipeline_id: str, answer: Json) -> PipelineRunPayload:
    return PipelineRunPayload(pipeline=await reload(info, pipeline_id),
                              run_id=answer.get("run_id"))


def webhook_call(stage: Json, params: list[ParamValueInput]) -> tuple[str, dict[str, str]]:
    """The stage's first webhook id, and `params` renamed to its query parameter names."""
    triggers = (stage.get("pre_operation") or {}).get("triggers") or []
    if not triggers or not (triggers[0].get("webhook") or {}).get("url"):
        raise UserInputError("this stage has no webhook trigger")
    trigger = triggers[0]
    if trigger["webhook"].get("signature") == "hmac-sha256":
        raise UserInputError("this stage's webhook needs a signature the gateway cannot make")
    names = {c.get("pipeline_param_name"): c.get("name")
             for c in trigger.get("pipeline_param_converts") or []}
    unknown = [p.name for p in params if p.name not in names]
    if unknown:
        raise UserInputError(f"the stage trigger does not convert: {', '.join(unknown)}")
    webhook_id = urlsplit(trigger["webhook"]["url"]).path.rstrip("/").rsplit("/", 1)[-1]
    return webhook_id, {str(names[p.name]): p.value for p in params}


@strawberry.type
class PipelineMutations:
    @strawberry.mutation(description="Create a pipeline group; CONFLICT if it exists.")
    async def create_pipeline_group(self, info: Info, input: CreatePipelineGroupInput
                                    ) -> PipelineGroup:
        ctx = info.context
        created = await ops_of(info).create_group(ctx.caller, input.name, input.description)
        ctx.loaders.forget()
        return PipelineGroup.from_json({**created, "pipeline_count": 0})

    @strawberry.mutation(description="Delete an empty pipeline group; returns its global id.")
    async def delete_pipeline_group(self, info: Info, name: str) -> relay.GlobalID:
        await ops_of(info).delete_group(info.context.caller, name)
        info.context.loaders.forget()
        return relay.GlobalID("PipelineGroup", name)

    @strawberry.mutation(description="Create a pipeline in a group.")
    async def create_pipeline(self, info: Info, input: CreatePipelineInput) -> Pipeline:
        created = await ops_of(info).create_pipeline(info.context.caller, input.group,
                                                     create_body(input))
        return await reload(info, str(created["id"]))

    @strawberry.mutation(description="Change a pipeline; CONFLICT while it runs.")
    async def update_pipeline(self, info: Info, input: UpdatePipelineInput) -> Pipeline:
        ops, caller = ops_of(info), info.context.caller
        current = await ops.get_pipeline(caller, input.id)
        await ops.update_pipeline(caller, input.id, update_body(current, input))
        return await reload(info, input.id)

    @strawberry.mutation(description="Delete a pipeline and its runs; returns its global id.")
    async def delete_pipeline(self, info: Info, id: str) -> relay.GlobalID:
        await ops_of(info).delete_pipeline(info.context.caller, id)
        info.context.loaders.forget()
        return relay.GlobalID("Pipeline", id)

    @strawberry.mutation(description="Run the whole pipeline; CONFLICT while it runs.")
    async def start_pipeline(self, info: Info, id: str,
                             params: list[ParamValueInput] | None = None) -> PipelineRunPayload:
        values = {p.name: p.value for p in params or []}
        answer = await ops_of(info).start_pipeline(info.context.caller, id, values)
        return await run_payload(info, id, answer)

    @strawberry.mutation(description="Run one stage through its webhook trigger.")
    async def trigger_stage(self, info: Info, pipeline_id: str, stage_index: int,
                            params: list[ParamValueInput] | None = None) -> PipelineRunPayload:
        ops, caller = ops_of(info), info.context.caller
        stages = (await ops.get_pipeline(caller, pipeline_id)).get("stages") or []
        if check_index(stage_index) >= len(stages):
            raise UserInputError(f"the pipeline has no stage {stage_index}")
        webhook_id, query = webhook_call(stages[stage_index], params or [])
        answer = await ops.trigger_webhook(caller, webhook_id, query)
        return await run_payload(info, pipeline_id, answer)

    @strawberry.mutation(description="Run a stage again, and the stages after it.")
    async def retry_stage(self, info: Info, pipeline_id: str, stage_index: int
                          ) -> PipelineRunPayload:
        answer = await ops_of(info).start_stage(info.context.caller, pipeline_id,
                                                check_index(stage_index), "retry")
        return await run_payload(info, pipeline_id, answer)

    @strawberry.mutation(description="Redeploy a deploy stage's previous image.")
    async def rollback_stage(self, info: Info, pipeline_id: str, stage_index: int
                             ) -> PipelineRunPayload:
        answer = await ops_of(info).start_stage(info.context.caller, pipeline_id,
                                                check_index(stage_index), "rollback")
        return await run_payload(info, pipeline_id, answer)

    @strawberry.mutation(description="Answer a waiting review step as the caller.")
    async def review_stage(self, info: Info, pipeline_id: str, stage_index: int,
                           result: ReviewDecision) -> Pipeline:
        await ops_of(info).review_stage(info.context.caller, pipeline_id,
                                        check_index(stage_index), result.value)
        return await reload(info, pipeline_id)
