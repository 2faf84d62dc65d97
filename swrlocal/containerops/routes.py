"""`/v3/manage/...`: pipeline groups, templates, pipelines, triggers, jobs and logs.

Every route but the webhook needs an API token; pipelines of another account are not found.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from swrlocal.authn import require_principal
from swrlocal.clock import rfc3339
from swrlocal.containerops import codes, model, signatures, store, templates, wire
from swrlocal.containerops.journal import ACTIVE_STATES, job_view
from swrlocal.containerops.runner import Runner
from swrlocal.db import Database, Row
from swrlocal.errors import SWRError
from swrlocal.identity import Principal

MAX_WAIT = 60.0
MAX_PARAM_VALUE = 1024


def _runner(request: Request) -> Runner:
    return request.app.state.containerops  # type: ignore[no-any-return]


def _db(request: Request) -> Database:
    return request.app.state.backend.db  # type: ignore[no-any-return]


def _now(request: Request) -> str:
    return rfc3339(request.app.state.backend.clock.now())


def _pipeline(request: Request, principal: Principal) -> Row:
    return store.find_pipeline(
        _db(request), principal.domain_id, request.path_params["pipeline_id"]
    )


def _stage(request: Request, pipeline: Row) -> tuple[int, dict[str, Any]]:
    text = request.path_params["stage_index"]
    stages = json.loads(pipeline["spec"])["stages"]
    if not text.isdigit() or int(text) >= len(stages):
        raise codes.missing(f"the pipeline has no stage {text}", codes.STAGE_NOT_FOUND)
    return int(text), stages[int(text)]


# groups


async def create_group(request: Request) -> Response:
    principal = require_principal(request)
    body = await wire.read_body(request)
    name = model.check_group_name(body.get("group"))
    description = model.text(body, "description", limit=1024)
    group_id = store.create_group(
        _db(request), principal.domain_id, name, description, _now(request)
    )
    return wire.respond(request, {"id": group_id, "group": name, "description": description}, 201)


async def list_groups(request: Request) -> Response:
    principal = require_principal(request)
    page = wire.page_of(wire.query_criteria(request))
    items, total = store.list_groups(_db(request), principal.domain_id, page)
    return wire.respond(request, items, headers=page.header(len(items), total))


async def delete_group(request: Request) -> Response:
    principal = require_principal(request)
    store.delete_group(_db(request), principal.domain_id, request.path_params["group_name"])
    return wire.respond(request, None, 204)


# templates


async def list_templates(request: Request) -> Response:
    principal = require_principal(request)
    criteria = wire.query_criteria(request)
    page = wire.page_of(criteria)
    items, total = templates.list_templates(_db(request), principal.domain_id, criteria, page)
    return wire.respond(request, items, headers=page.header(len(items), total))


async def show_template(request: Request) -> Response:
    principal = require_principal(request)
    row = templates.find_template(
        _db(request), principal.domain_id, request.path_params["template_id"]
    )
    return wire.respond(request, templates.render(row, details=True))


async def create_template(request: Request) -> Response:
    """Save a `my_template` (not in the contract; see docs/containerops.md)."""
    principal = require_principal(request)
    body = await wire.read_body(request)
    stages = body.get("stages")
    if (
        not isinstance(stages, list)
        or not stages
        or not all(
            isinstance(s, dict) and s.get("name") and s.get("service_name") in model.SERVICES
            for s in stages
        )
    ):
        raise codes.bad(
            "stages must be a list of {name, service_name, params}", codes.INVALID_PIPELINE
        )
    labels = body.get("pipeline_labels") or []
    spec = {
        "name": model.text(body, "name", required=True, limit=128),
        "description": model.text(body, "description", limit=1024),
        "template_type_ch": model.text(body, "template_type_ch"),
        "template_type_en": model.text(body, "template_type_en"),
        "labels": [str(x.get("name") if isinstance(x, dict) else x) for x in labels],
        "params": model.normalize_params(body.get("params")),
        "pre_operation": body.get("pre_operation") or {"operator": "and", "triggers": []},
        "stages": stages,
    }
    template_id = templates.save(_db(request), principal.domain_id, spec, _now(request))
    row = templates.find_template(_db(request), principal.domain_id, str(template_id))
    return wire.respond(request, templates.render(row, details=True), 201)


# pipelines


def _status(request: Request, pipeline: Row) -> dict[str, Any]:
    runner = _runner(request)
    run = runner.journal.latest_run(pipeline["id"])
    spec = json.loads(pipeline["spec"])
    stages = []
    for stage in spec["stages"]:
        job = (
            None
            if run is None
            else _db(request).one(
                "SELECT * FROM jobs WHERE run_id = ? AND stage_id = ? ORDER BY rowid DESC LIMIT 1",
                (run["id"], stage["id"]),
            )
        )
        stages.append(
            {
                "status": None if job is None else job["state"],
                "pre_operation": stage.get("pre_operation"),
                "start_time": None if job is None else job["started_at"],
                "end_time": None if job is None else job["ended_at"],
                "state": {"review_results": [] if job is None else json.loads(job["review"])},
            }
        )
    rendered = store.render_pipeline(_db(request), pipeline, _base_url(request))
    triggers = [
        {
            "is_satisfied": run is not None and run["origin"] == "webhook",
            "webhook": t["webhook"],
            "channel": t["channel"],
        }
        for t in rendered["pre_operation"]["triggers"]
    ]
    return {
        "status": "waiting" if run is None else run["status"],
        "run_id": None if run is None else run["id"],
        "stage_index": 0 if run is None else run["stage_index"],
        "created_time": None if run is None else run["created"],
        "updated_time": None if run is None else run["updated"],
        "start_time": None if run is None else run["start_time"],
        "end_time": None if run is None else run["end_time"],
        "stages": stages,
        "pre_operation": {"triggers_status": triggers},
    }


def _base_url(request: Request) -> str:
    return str(request.app.state.backend.settings.base_url)


def _show(request: Request, pipeline: Row) -> dict[str, Any]:
    body = store.render_pipeline(_db(request), pipeline, _base_url(request))
    body["status"] = _status(request, pipeline)
    return body


async def create_pipeline(request: Request) -> Response:
    principal = require_principal(request)
    group = store.find_group(
        _db(request), principal.domain_id, name=request.path_params["group_name"]
    )
    pipeline = model.normalize_pipeline(await wire.read_body(request))
    pipeline_id = store.insert_pipeline(
        _db(request), group, (principal.user_id, principal.user_name), pipeline, _now(request)
    )
    row = store.find_pipeline(_db(request), principal.domain_id, pipeline_id)
    return wire.respond(request, _show(request, row), 201)


async def update_pipeline(request: Request) -> Response:
    principal = require_principal(request)
    row = _pipeline(request, principal)
    body = await wire.read_body(request)
    for key, current in (
        ("id", row["id"]),
        ("group_id", row["group_id"]),
        ("group_name", row["group_name"]),
    ):
        if body.get(key) not in (None, "", current):
            raise codes.bad(f"{key} cannot change", codes.INVALID_PIPELINE)
    if _runner(request).is_busy(row["id"]):
        raise codes.conflict("the pipeline is running", codes.PIPELINE_BUSY)
    pipeline = model.normalize_pipeline(body, json.loads(row["spec"]))
    store.update_pipeline(_db(request), row, pipeline, _now(request))
    row = store.find_pipeline(_db(request), principal.domain_id, row["id"])
    return wire.respond(request, _show(request, row), 201)


async def delete_pipeline(request: Request) -> Response:
    principal = require_principal(request)
    row = _pipeline(request, principal)
    runner = _runner(request)
    if runner.is_busy(row["id"]):
        raise codes.conflict("the pipeline is running", codes.PIPELINE_BUSY)
    run_ids = [
        r["id"] for r in _db(request).all("SELECT id FROM runs WHERE pipeline_id = ?", (row["id"],))
    ]
    _db(request).execute("DELETE FROM pipelines WHERE id = ?", (row["id"],))
    runner.remove_workspaces(run_ids)
    return wire.respond(request, None, 204)


async def show_pipeline(request: Request) -> Response:
    principal = require_principal(request)
    return wire.respond(request, _show(request, _pipeline(request, principal)))


async def list_pipelines(request: Request) -> Response:
    principal = require_principal(request)
    criteria = wire.query_criteria(request)
    page = wire.page_of(criteria)
    rows, total = store.list_pipelines(_db(request), principal.domain_id, criteria, page)
    runner = _runner(request)
    items = []
    for row in rows:
        spec = json.loads(row["spec"])
        run = runner.journal.latest_run(row["id"])
        items.append(
            {
                "name": row["name"],
                "id": row["id"],
                "group_id": row["group_id"],
                "group_name": row["group_name"],
                "description": spec["description"],
                "status": "waiting" if run is None else run["status"],
                "source": spec["source"],
                "stages": spec["stages"],
            }
        )
    return wire.respond(request, items, headers=page.header(len(items), total))


def _manual_params(body: dict[str, Any], pipeline: Row) -> dict[str, str]:
    names = {p["name"] for p in json.loads(pipeline["spec"])["params"]}
    raw = body.get("params") or {}
    if isinstance(raw, list):
        raw = {str(p.get("name")): p.get("value") for p in raw if isinstance(p, dict)}
    if not isinstance(raw, dict):
        raise codes.bad("params must be an object or a list of {name, value}")
    unknown = sorted(set(raw) - names)
    if unknown:
        raise codes.bad(f"unknown pipeline parameters: {', '.join(unknown)}")
    return {k: _param_value(v) for k, v in raw.items()}


def _param_value(value: object) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_PARAM_VALUE or any(ord(c) < 32 for c in text):
        raise codes.bad(
            "parameter values are at most 1024 characters, without control characters",
            codes.INVALID_WEBHOOK_PARAMS,
        )
    return text


async def start_pipeline(request: Request) -> Response:
    """Manual start (our design, in the style of the stage `start` call)."""
    principal = require_principal(request)
    row = _pipeline(request, principal)
    params = _manual_params(await wire.read_body(request), row)
    run_id = _runner(request).start_run(
        row, "manual", params, (principal.user_id, principal.user_name)
    )
    return wire.respond(request, {"id": row["id"], "run_id": run_id, "status": "waiting"}, 201)


# steps


def _jobs_of(db: Database, pipeline: Row, stage: dict[str, Any]) -> list[Row]:
    return db.all(
        "SELECT * FROM jobs WHERE pipeline_id = ? AND stage_id = ? ORDER BY rowid DESC",
        (pipeline["id"], stage["id"]),
    )


async def list_jobs(request: Request) -> Response:
    principal = require_principal(request)
    pipeline = _pipeline(request, principal)
    _, stage = _stage(request, pipeline)
    now = _now(request)
    return wire.respond(
        request, [job_view(j, now) for j in _jobs_of(_db(request), pipeline, stage)]
    )


def _find_job(request: Request, pipeline: Row, stage: dict[str, Any]) -> Row:
    job_id = request.path_params["job_id"]
    if job_id == "latest":
        jobs = _jobs_of(_db(request), pipeline, stage)
        job = jobs[0] if jobs else None
    else:
        job = _db(request).one(
            "SELECT * FROM jobs WHERE id = ? AND pipeline_id = ? AND stage_id = ?",
            (job_id, pipeline["id"], stage["id"]),
        )
    if job is None:
        raise codes.missing("job not found", codes.JOB_NOT_FOUND)
    return job


async def job_logs(request: Request) -> Response:
    principal = require_principal(request)
    pipeline = _pipeline(request, principal)
    _, stage = _stage(request, pipeline)
    job = _find_job(request, pipeline, stage)
    criteria = dict(request.query_params)
    page = wire.page_of(criteria)
    wait = _wait_seconds(criteria.get("wait"))
    job, lines = await _lines(request, job["id"], page, wait)
    body = {"log": [{"content": r["content"], "created_at": r["created_at"]} for r in lines]}
    body.update(job_view(job, _now(request)))
    return wire.respond(request, body, headers=page.header(len(lines), job["log_num"]))


def _wait_seconds(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_WAIT:
        raise codes.bad(
            f"wait must be a number of seconds from 0 to {MAX_WAIT:g}", codes.INVALID_QUERY
        )
    return value


async def _lines(
    request: Request, job_id: str, page: wire.Page, wait: float
) -> tuple[Row, list[Row]]:
    """Read a page of lines; with `wait`, hold until a line exists at `offset` or the job ends."""
    runner, db = _runner(request), _db(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        event = runner.hub.event(job_id)  # before reading: a line written now still wakes us
        job = runner.journal.job(job_id)
        lines = db.all(
            "SELECT content, created_at FROM job_logs WHERE job_id = ? AND seq >= ?"
            " ORDER BY seq LIMIT ?",
            (job_id, page.offset, page.limit),
        )
        remaining = deadline - loop.time()
        if lines or job["state"] not in ACTIVE_STATES or remaining <= 0:
            return job, lines
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), remaining)


async def start_stage(request: Request) -> Response:
    principal = require_principal(request)
    pipeline = _pipeline(request, principal)
    index, _ = _stage(request, pipeline)
    mode = request.query_params.get("mode", "")
    source = request.query_params.get("source")
    runner = _runner(request)
    if mode == "retry":
        run_id = runner.retry(pipeline, index)
    elif mode == "rollback":
        if source not in (None, "", "rollback::true"):
            raise codes.bad("source must be rollback::true", codes.INVALID_QUERY)
        run_id = runner.rollback(pipeline, index)
    else:
        raise codes.bad("mode must be retry or rollback", codes.INVALID_QUERY)
    return wire.respond(request, {"id": pipeline["id"], "run_id": run_id, "mode": mode}, 201)


async def configure_stage(request: Request) -> Response:
    principal = require_principal(request)
    pipeline = _pipeline(request, principal)
    _, stage = _stage(request, pipeline)
    body = await wire.read_body(request)
    if body.get("mode") != "review" or body.get("review_result") not in ("pass", "refuse"):
        raise codes.bad("expected mode=review and review_result pass or refuse")
    runner = _runner(request)
    run = runner.journal.latest_run(pipeline["id"])
    jobs = (
        []
        if run is None
        else _db(request).all(
            "SELECT * FROM jobs WHERE run_id = ? AND stage_id = ? ORDER BY rowid DESC LIMIT 1",
            (run["id"], stage["id"]),
        )
    )
    if stage["service_name"] != "test_review" or not jobs or jobs[0]["state"] != "Waiting":
        raise codes.conflict("the step is not waiting for a review", codes.NOT_WAITING)
    run_stage = json.loads(run["spec"])[jobs[0]["stage_index"]] if run else stage
    runner.review(jobs[0], run_stage, principal.user_name, body["review_result"])
    return wire.respond(request, {}, 201)


# webhooks


def _webhook_params(request: Request, trigger: dict[str, Any]) -> dict[str, str]:
    converts = {
        c["name"]: c["pipeline_param_name"] for c in trigger.get("pipeline_param_converts", [])
    }
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in converts:
            raise codes.bad(
                f"query parameter {key!r} is not converted by this trigger",
                codes.INVALID_WEBHOOK_PARAMS,
            )
        if converts[key] in params:
            raise codes.bad(f"query parameter {key!r} is given twice", codes.INVALID_WEBHOOK_PARAMS)
        params[converts[key]] = _param_value(value)
    return params


async def webhook(request: Request) -> Response:
    db = _db(request)
    hook = db.one("SELECT * FROM webhooks WHERE id = ?", (request.path_params["webhook_id"],))
    pipeline = None if hook is None else store.pipeline_by_id(db, hook["pipeline_id"])
    if hook is None or pipeline is None:
        raise codes.missing("webhook not found", codes.WEBHOOK_NOT_FOUND)
    spec = json.loads(pipeline["spec"])
    index = None
    pre = spec["pre_operation"]
    if hook["stage_id"] is not None:
        index = next(i for i, s in enumerate(spec["stages"]) if s["id"] == hook["stage_id"])
        pre = spec["stages"][index]["pre_operation"]
    trigger = pre["triggers"][hook["trigger_index"]]
    if request.method != "POST" and trigger["webhook"]["method"] != request.method:
        raise SWRError(
            405,
            codes.INVALID_OPERATION,
            f"this webhook is called with {trigger['webhook']['method']}",
        )
    body = await request.body()
    now = int(request.app.state.backend.clock.now().timestamp())
    signed = signatures.verify(request, hook["secret"], body, now) if hook["secret"] else None
    params = _webhook_params(request, trigger)
    seen = signatures.remember(db, hook["id"], signed, now) if signed else None
    creator = (pipeline["creator_id"], pipeline["creator_name"])
    try:
        run_id = _runner(request).start_run(
            pipeline, "webhook", params, creator, stage_index=index
        )
    except BaseException:
        if seen is not None:
            signatures.forget(db, seen)  # nothing started: the sender may send it again
        raise
    return wire.respond(
        request, {"id": pipeline["id"], "run_id": run_id, "stage_index": index}, 201
    )


routes: list[BaseRoute] = [
    Route("/v3/manage/pipelinegroups", create_group, methods=["POST"]),
    Route("/v3/manage/pipelinegroups", list_groups, methods=["GET"]),
    Route("/v2/manage/pipelinegroups", create_group, methods=["POST"]),
    Route("/v2/manage/pipelinegroups", list_groups, methods=["GET"]),
    Route("/v3/manage/pipelinegroups/{group_name}", delete_group, methods=["DELETE"]),
    Route("/v3/manage/pipelinegroups/{group_name}/pipelines", create_pipeline, methods=["POST"]),
    Route("/v3/manage/pipelinetemplates", list_templates, methods=["GET"]),
    Route("/v3/manage/pipelinetemplates", create_template, methods=["POST"]),
    Route("/v3/manage/pipelinetemplates/{template_id}", show_template, methods=["GET"]),
    Route("/v3/manage/pipelines", list_pipelines, methods=["GET"]),
    Route("/v3/manage/pipelines/{pipeline_id}", show_pipeline, methods=["GET"]),
    Route("/v3/manage/pipelines/{pipeline_id}", update_pipeline, methods=["PUT"]),
    Route("/v3/manage/pipelines/{pipeline_id}", delete_pipeline, methods=["DELETE"]),
    Route("/v3/manage/pipelines/{pipeline_id}/start", start_pipeline, methods=["POST"]),
    Route(
        "/v3/manage/pipelines/{pipeline_id}/stages/{stage_index}/jobs", list_jobs, methods=["GET"]
    ),
    Route(
        "/v3/manage/pipelines/{pipeline_id}/stages/{stage_index}/jobs/{job_id}/logs",
        job_logs,
        methods=["GET"],
    ),
    Route(
        "/v3/manage/pipelines/{pipeline_id}/stages/{stage_index}/start",
        start_stage,
        methods=["POST"],
    ),
    Route(
        "/v3/manage/pipelines/{pipeline_id}/stages/{stage_index}/start_info",
        configure_stage,
        methods=["PUT"],
    ),
    Route("/v3/manage/webhooks/{webhook_id}", webhook, methods=["POST", "GET"]),
    Route("/v2/manage/webhooks/{webhook_id}", webhook, methods=["POST", "GET"]),
]
