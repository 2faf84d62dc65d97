"""Validation and normalization of pipeline groups and pipeline definitions (contract 10.3).

A pipeline is stored as its normalized wire object ("spec"): the fields the client sent that
the contract names, with stage ids filled in. Webhook URLs and secrets live in the `webhooks`
table and are merged in when the pipeline is shown.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from swrlocal.containerops import codes

GROUP_NAME = re.compile(r"^[a-z][a-z0-9]*(?:(?:_{1,2}|-+)[a-z0-9]+)*$")
SERVICES = (
    "code_source",
    "jenkins_build",
    "dockerfile_build",
    "test_review",
    "official_deploy",
    "gray_deploy",
)
DEPLOY_SERVICES = ("official_deploy", "gray_deploy")
HANDLERS = ("return_to_start", "timeout_reset", "ignore_error")
RESOURCE_TYPES = ("image", "package", "code_source")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_STAGES = 50
MAX_TEXT = 256


def new_stage_id() -> str:
    return secrets.token_hex(8)


def check_group_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not GROUP_NAME.match(name):
        raise codes.bad(
            "group must be 1-64 characters of a-z, 0-9, _ and -, start with a letter, end with a"
            " letter or digit, with at most two _ in a row and no _ next to -",
            codes.INVALID_GROUP_NAME,
        )
    return name


def text(body: dict[str, Any], key: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise codes.bad(f"{key} is required", codes.INVALID_PIPELINE)
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise codes.bad(
            f"{key} must be a string of at most {limit} characters", codes.INVALID_PIPELINE
        )
    return value


def _object(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise codes.bad(f"{where} must be an object", codes.INVALID_PIPELINE)
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise codes.bad(f"{where} must be an array", codes.INVALID_PIPELINE)
    return value


def normalize_params(value: object) -> list[dict[str, Any]]:
    params = []
    seen: set[str] = set()
    for item in _list(value, "params"):
        item = _object(item, "params[]")
        name = text(item, "name", required=True, limit=64)
        if not PARAM_NAME.match(name) or name in seen:
            raise codes.bad(
                f"parameter name {name!r} is invalid or repeated", codes.INVALID_PIPELINE
            )
        seen.add(name)
        params.append(
            {
                "name": name,
                "description": text(item, "description"),
                "value": "" if item.get("value") is None else str(item["value"]),
                "id": str(item.get("id") or name),
                "is_template": bool(item.get("is_template", False)),
            }
        )
    return params


def normalize_pre_operation(
    value: object, param_names: set[str], where: str
) -> tuple[dict[str, Any], list[str | None]]:
    """The `pre_operation` without secrets, and each trigger's secret (None: keep or none)."""
    body = _object(value, where)
    operator = body.get("operator") or "and"
    if operator not in ("and", "or"):
        raise codes.bad(f"{where}.operator must be and or or", codes.INVALID_PIPELINE)
    triggers, secret_list = [], []
    for item in _list(body.get("triggers"), f"{where}.triggers"):
        trigger, secret = _normalize_trigger(
            _object(item, f"{where}.triggers[]"), param_names, where
        )
        triggers.append(trigger)
        secret_list.append(secret)
    if not triggers:  # an empty list still creates a webhook trigger (contract 10.3)
        triggers.append(_normalize_trigger({}, param_names, where)[0])
        secret_list.append(None)
    return {"operator": operator, "triggers": triggers}, secret_list


def _normalize_trigger(
    item: dict[str, Any], param_names: set[str], where: str
) -> tuple[dict[str, Any], str | None]:
    webhook = _object(item.get("webhook"), f"{where}.webhook")
    method = str(webhook.get("method") or "POST").upper()
    if method not in ("POST", "GET"):
        raise codes.bad(f"{where}: webhook.method must be POST or GET", codes.INVALID_PIPELINE)
    secret = webhook.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) > 256):
        raise codes.bad(f"{where}: webhook.secret must be a string", codes.INVALID_PIPELINE)
    converts = []
    for convert in _list(item.get("pipeline_param_converts"), f"{where}.pipeline_param_converts"):
        convert = _object(convert, "pipeline_param_converts[]")
        name = text(convert, "name", required=True, limit=64)
        target = text(convert, "pipeline_param_name", required=True, limit=64)
        if target not in param_names:
            raise codes.bad(f"{where}: no pipeline parameter {target!r}", codes.INVALID_PIPELINE)
        converts.append({"name": name, "pipeline_param_name": target})
    channel = _object(item.get("channel"), f"{where}.channel")
    trigger = {
        "webhook": {"method": method},
        "channel": {"name": str(channel.get("name") or "webhook")},
        "pipeline_param_converts": converts,
    }
    return trigger, secret


def normalize_resource(value: object, where: str) -> dict[str, Any]:
    item = _object(value, where)
    kind = item.get("type")
    if kind not in RESOURCE_TYPES:
        raise codes.bad(
            f"{where}.type must be one of {', '.join(RESOURCE_TYPES)}", codes.INVALID_PIPELINE
        )
    params = _object(item.get("params"), f"{where}.params")
    if kind == "image":
        for key in ("namespace", "repository", "tag"):
            if not isinstance(params.get(key), str) or not params[key]:
                raise codes.bad(f"{where}.params.{key} is required", codes.INVALID_PIPELINE)
    return {
        "name": str(item.get("name") or ""),
        "description": str(item.get("description") or ""),
        "type": kind,
        "params": params,
    }


def _check_handler(value: object, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    handler = _object(value, where)
    if handler.get("type") not in HANDLERS:
        raise codes.bad(
            f"{where}.type must be one of {', '.join(HANDLERS)}", codes.INVALID_PIPELINE
        )
    params = _object(handler.get("params"), f"{where}.params")
    if handler["type"] == "timeout_reset":
        span = params.get("timespan")
        if isinstance(span, bool) or not isinstance(span, int | float) or span <= 0:
            raise codes.bad(
                f"{where}.params.timespan must be a positive number of hours",
                codes.INVALID_PIPELINE,
            )
    return {"type": handler["type"], "params": params}


def _check_service_params(
    service: str, params: dict[str, Any], stage: dict[str, Any], where: str
) -> None:
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise codes.bad(f"{where}: {message}", codes.INVALID_PIPELINE)

    if service == "code_source":
        need(isinstance(params.get("url"), str) and bool(params["url"]), "params.url is required")
        need(not (params.get("branch") and params.get("tag")), "give branch or tag, not both")
    elif service == "jenkins_build":
        need(isinstance(params.get("jenkins_shell"), str), "params.jenkins_shell is required")
    elif service == "dockerfile_build":
        need(
            isinstance(params.get("dockerfile_content") or params.get("dockerfile_path"), str),
            "params.dockerfile_content or params.dockerfile_path is required",
        )
        need(
            any(r["type"] == "image" for r in stage["output_resources"]),
            "an image output resource is required",
        )
    elif service == "test_review":
        need(
            params.get("review_mode", "all") in ("all", "one"),
            "params.review_mode must be all or one",
        )
        users = params.get("review_users", [])
        need(
            isinstance(users, list)
            and all(isinstance(u, dict) and u.get("user_name") for u in users),
            "params.review_users must be a list of {user_name, email}",
        )
    elif service in DEPLOY_SERVICES:
        need(
            any(r["type"] == "image" for r in stage["input_resources"]),
            "an image input resource is required",
        )
        target = params.get("target")
        need(
            isinstance(target, dict) and bool(target.get("name")), "params.target.name is required"
        )
        has_url = bool(target.get("hook_url"))  # type: ignore[union-attr]
        has_command = bool(target.get("hook_command"))  # type: ignore[union-attr]
        need(has_url != has_command, "params.target needs one of hook_url and hook_command")
        hook_url = str(target.get("hook_url") or "")  # type: ignore[union-attr]
        need(
            not hook_url or hook_url.startswith(("http://", "https://")), "hook_url must be http(s)"
        )


def normalize_stage(
    item: object, index: int, param_names: set[str]
) -> tuple[dict[str, Any], list[str | None] | None]:
    where = f"stages[{index}]"
    body = _object(item, where)
    service = body.get("service_name")
    if service not in SERVICES:
        raise codes.bad(
            f"{where}.service_name must be one of {', '.join(SERVICES)}", codes.INVALID_PIPELINE
        )
    if not isinstance(body.get("params"), dict):
        raise codes.bad(f"{where}.params is required", codes.INVALID_PIPELINE)
    stage: dict[str, Any] = {
        "id": str(body["id"]) if body.get("id") else None,
        "name": text(body, "name", required=True),
        "service_name": service,
        "params": body["params"],
        "exception_handler": _check_handler(
            body.get("exception_handler"), f"{where}.exception_handler"
        ),
        "input_resources": [
            normalize_resource(r, f"{where}.input_resources[]")
            for r in _list(body.get("input_resources"), where)
        ],
        "output_resources": [
            normalize_resource(r, f"{where}.output_resources[]")
            for r in _list(body.get("output_resources"), where)
        ],
        "post_operation": _object(body.get("post_operation"), f"{where}.post_operation"),
    }
    secret_list = None
    if body.get("pre_operation") is not None:
        stage["pre_operation"], secret_list = normalize_pre_operation(
            body["pre_operation"], param_names, f"{where}.pre_operation"
        )
    else:
        stage["pre_operation"] = None
    _check_service_params(service, stage["params"], stage, where)
    return stage, secret_list


class Normalized:
    """A validated pipeline body, and the secrets of its triggers keyed by (stage id, index)."""

    def __init__(
        self, spec: dict[str, Any], secrets_: dict[tuple[str | None, int], str | None]
    ) -> None:
        self.spec = spec
        self.secrets = secrets_


def normalize_pipeline(body: dict[str, Any], old: dict[str, Any] | None = None) -> Normalized:
    """Validate a create (old is None) or update body; on update apply the stage-id rules."""
    params = normalize_params(body.get("params"))
    names = {p["name"] for p in params}
    pre, pipeline_secrets = normalize_pre_operation(
        body.get("pre_operation"), names, "pre_operation"
    )
    raw_stages = body.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages or len(raw_stages) > MAX_STAGES:
        raise codes.bad(
            f"stages must be a list of 1 to {MAX_STAGES} stages", codes.INVALID_PIPELINE
        )
    secret_map: dict[tuple[str | None, int], str | None] = {
        (None, i): s for i, s in enumerate(pipeline_secrets)
    }
    old_stages = {s["id"]: s for s in (old or {}).get("stages", [])}
    stages = []
    for index, raw in enumerate(raw_stages):
        stage, stage_secrets = normalize_stage(raw, index, names)
        _apply_stage_id(stage, old_stages, old is not None, index)
        for i, secret in enumerate(stage_secrets or []):
            secret_map[(stage["id"], i)] = secret
        stages.append(stage)
    if len({s["id"] for s in stages}) != len(stages):
        raise codes.bad("a stage id appears twice", codes.INVALID_PIPELINE)
    source = body.get("source") or ""
    if source not in ("", "devcloud"):
        raise codes.bad("source must be devcloud or empty", codes.INVALID_PIPELINE)
    spec = {
        "name": text(body, "name", required=True, limit=128),
        "description": text(body, "description", limit=1024),
        "source": source,
        "params": params,
        "pre_operation": pre,
        "post_operation": _object(body.get("post_operation"), "post_operation"),
        "stages": stages,
    }
    return Normalized(spec, secret_map)


def _apply_stage_id(
    stage: dict[str, Any], old_stages: dict[str, Any], updating: bool, index: int
) -> None:
    """On update a stage with an id must exist and keep its service; without one it is new."""
    if stage["id"] is None or not updating:  # ids sent on create (copied templates) are replaced
        stage["id"] = new_stage_id()
        return
    previous = old_stages.get(stage["id"])
    if previous is None:
        raise codes.bad(
            f"stages[{index}]: no stage with id {stage['id']!r}", codes.INVALID_PIPELINE
        )
    if previous["service_name"] != stage["service_name"]:
        raise codes.bad(f"stages[{index}]: service_name cannot change", codes.INVALID_PIPELINE)
