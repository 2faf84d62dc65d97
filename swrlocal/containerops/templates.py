"""Pipeline templates: a built-in sample catalog, plus `my_template` ones saved by accounts."""

from __future__ import annotations

import json
from typing import Any

from swrlocal.containerops import codes
from swrlocal.containerops.wire import Page
from swrlocal.db import Database, Row

LABELS = {
    "build": {"id": 1, "name": "build", "describe": "build an image from source"},
    "test": {"id": 2, "name": "test", "describe": "run tests and review the result"},
    "deploy": {"id": 3, "name": "deploy", "describe": "deploy an image to a target"},
}


def _stage(name: str, service: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "service_name": service, "params": params, **extra}


_CODE = _stage("checkout", "code_source", {"git_type": "gitlab", "url": "", "branch": "master"})
_IMAGE = {"type": "image", "params": {"namespace": "", "repository": "", "tag": "latest"}}
SAMPLES: list[dict[str, Any]] = [
    {
        "name": "image-build",
        "description": "Check out code and build an image from its Dockerfile",
        "template_type_ch": "镜像构建",
        "template_type_en": "Image build",
        "labels": ["build"],
        "params": [],
        "stages": [
            _CODE,
            _stage(
                "build image",
                "dockerfile_build",
                {"dockerfile_path": "Dockerfile", "build_path": "."},
                output_resources=[_IMAGE],
            ),
        ],
    },
    {
        "name": "build-test-deploy",
        "description": "Build, test with a shell script, review, then deploy",
        "template_type_ch": "构建测试部署",
        "template_type_en": "Build, test and deploy",
        "labels": ["build", "test", "deploy"],
        "params": [{"name": "tag", "description": "image tag", "value": "latest"}],
        "stages": [
            _CODE,
            _stage(
                "unit tests",
                "jenkins_build",
                {"basic_env": "SelfPkgBuild", "jenkins_shell": "make test"},
            ),
            _stage(
                "build image",
                "dockerfile_build",
                {"dockerfile_path": "Dockerfile"},
                output_resources=[_IMAGE],
            ),
            _stage("review", "test_review", {"review_mode": "one", "review_users": []}),
            _stage(
                "deploy",
                "official_deploy",
                {"deploy_mode": "cceMode", "target": {"name": "production", "hook_url": ""}},
                input_resources=[_IMAGE],
            ),
        ],
    },
    {
        "name": "gray-release",
        "description": "Gray-release an existing image, with a review before it",
        "template_type_ch": "灰度发布",
        "template_type_en": "Gray release",
        "labels": ["deploy"],
        "params": [],
        "stages": [
            _stage("review", "test_review", {"review_mode": "all", "review_users": []}),
            _stage(
                "gray deploy",
                "gray_deploy",
                {
                    "deploy_mode": "cceMode",
                    "gray_mode": "service",
                    "target": {"name": "canary", "hook_url": ""},
                },
                input_resources=[_IMAGE],
            ),
        ],
    },
]


def seed(db: Database, now: str) -> None:
    """Insert the sample catalog once; ids 1..N stay stable across restarts."""
    if db.scalar("SELECT count(*) FROM pipeline_templates WHERE category = 'sample_template'"):
        return
    with db.transaction():
        for sample in SAMPLES:
            db.execute(
                "INSERT INTO pipeline_templates (domain_id, name, category, spec, created, updated)"
                " VALUES (NULL, ?, 'sample_template', ?, ?, ?)",
                (sample["name"], json.dumps(sample), now, now),
            )


def save(db: Database, domain_id: str, spec: dict[str, Any], now: str) -> int:
    cursor = db.execute(
        "INSERT INTO pipeline_templates (domain_id, name, category, spec, created, updated)"
        " VALUES (?, ?, 'my_template', ?, ?, ?)",
        (domain_id, spec["name"], json.dumps(spec), now, now),
    )
    return int(cursor.lastrowid or 0)


def _visible(domain_id: str) -> tuple[str, list[Any]]:
    return "(domain_id IS NULL OR domain_id = ?)", [domain_id]


def render(row: Row, *, details: bool) -> dict[str, Any]:
    spec = json.loads(row["spec"])
    stages = (
        spec["stages"]
        if details
        else [
            {"name": s["name"], "service_name": s["service_name"], "is_task": True}
            for s in spec["stages"]
        ]
    )
    item = {
        "id": row["id"],
        "name": row["name"],
        "description": spec.get("description", ""),
        "stages": stages,
        "template_type_ch": spec.get("template_type_ch", ""),
        "template_type_en": spec.get("template_type_en", ""),
        "template_category": row["category"],
        "created_at": row["created"],
        "updated_at": row["updated"],
        "pipeline_labels": [
            LABELS.get(n, {"id": 0, "name": n, "describe": ""}) for n in spec.get("labels", [])
        ],
    }
    if details:
        item["pre_operation"] = spec.get("pre_operation", {"operator": "and", "triggers": []})
        item["params"] = spec.get("params", [])
    return item


def list_templates(
    db: Database, domain_id: str, criteria: dict[str, str], page: Page
) -> tuple[list[dict[str, Any]], int]:
    where, args = _visible(domain_id)
    category = criteria.get("template_category")
    if category:
        if category not in ("sample_template", "my_template"):
            raise codes.bad(
                "template_category must be sample_template or my_template", codes.INVALID_QUERY
            )
        where += " AND category = ?"
        args.append(category)
    rows = db.all(f"SELECT * FROM pipeline_templates WHERE {where} ORDER BY id", args)
    label = criteria.get("pipeline_label")
    if label:
        rows = [r for r in rows if label in json.loads(r["spec"]).get("labels", [])]
    chosen = rows[page.offset : page.offset + page.limit]
    return [render(r, details=False) for r in chosen], len(rows)


def find_template(db: Database, domain_id: str, template_id: str) -> Row:
    where, args = _visible(domain_id)
    row = None
    if template_id.isdigit():
        row = db.one(
            f"SELECT * FROM pipeline_templates WHERE id = ? AND {where}", [int(template_id), *args]
        )
    if row is None:
        raise codes.missing("pipeline template not found", codes.TEMPLATE_NOT_FOUND)
    return row
