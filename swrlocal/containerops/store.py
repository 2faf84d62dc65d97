"""Persistence of pipeline groups, pipelines and their webhooks."""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

from swrlocal.containerops import codes
from swrlocal.containerops.model import Normalized
from swrlocal.containerops.wire import Page
from swrlocal.db import Database, Row

WEBHOOK_PATH = "/v3/manage/webhooks/"


def find_group(
    db: Database, domain_id: str, *, name: str | None = None, group_id: int | None = None
) -> Row:
    if name is not None:
        row = db.one(
            "SELECT * FROM pipeline_groups WHERE domain_id = ? AND name = ?", (domain_id, name)
        )
    else:
        row = db.one(
            "SELECT * FROM pipeline_groups WHERE domain_id = ? AND id = ?", (domain_id, group_id)
        )
    if row is None:
        raise codes.missing("pipeline group not found", codes.GROUP_NOT_FOUND)
    return row


def create_group(db: Database, domain_id: str, name: str, description: str, now: str) -> int:
    if db.one("SELECT 1 FROM pipeline_groups WHERE domain_id = ? AND name = ?", (domain_id, name)):
        raise codes.conflict(f"pipeline group {name!r} already exists", codes.GROUP_EXISTS)
    cursor = db.execute(
        "INSERT INTO pipeline_groups (domain_id, name, description, created) VALUES (?, ?, ?, ?)",
        (domain_id, name, description, now),
    )
    return int(cursor.lastrowid or 0)


def list_groups(db: Database, domain_id: str, page: Page) -> tuple[list[dict[str, Any]], int]:
    total = int(db.scalar("SELECT count(*) FROM pipeline_groups WHERE domain_id = ?", (domain_id,)))
    rows = db.all(
        "SELECT g.id, g.name, g.description,"
        " (SELECT count(*) FROM pipelines p WHERE p.group_id = g.id) AS pipeline_count"
        " FROM pipeline_groups g WHERE g.domain_id = ? ORDER BY g.id LIMIT ? OFFSET ?",
        (domain_id, page.limit, page.offset),
    )
    items = [
        {
            "id": r["id"],
            "group": r["name"],
            "description": r["description"],
            "pipeline_count": r["pipeline_count"],
        }
        for r in rows
    ]
    return items, total


def delete_group(db: Database, domain_id: str, name: str) -> None:
    group = find_group(db, domain_id, name=name)
    if db.one("SELECT 1 FROM pipelines WHERE group_id = ?", (group["id"],)):
        raise codes.conflict("the pipeline group still contains pipelines", codes.GROUP_NOT_EMPTY)
    db.execute("DELETE FROM pipeline_groups WHERE id = ?", (group["id"],))


def find_pipeline(db: Database, domain_id: str, pipeline_id: str) -> Row:
    """A pipeline of the caller's account; another account's pipeline is not found (404)."""
    row = db.one(
        "SELECT p.*, g.name AS group_name FROM pipelines p"
        " JOIN pipeline_groups g ON g.id = p.group_id"
        " WHERE p.id = ? AND p.domain_id = ?",
        (pipeline_id, domain_id),
    )
    if row is None:
        raise codes.missing("pipeline not found", codes.PIPELINE_NOT_FOUND)
    return row


def pipeline_by_id(db: Database, pipeline_id: str) -> Row | None:
    return db.one(
        "SELECT p.*, g.name AS group_name FROM pipelines p"
        " JOIN pipeline_groups g ON g.id = p.group_id"
        " WHERE p.id = ?",
        (pipeline_id,),
    )


def _check_unique_name(db: Database, group_id: int, name: str, pipeline_id: str) -> None:
    if db.one(
        "SELECT 1 FROM pipelines WHERE group_id = ? AND name = ? AND id != ?",
        (group_id, name, pipeline_id),
    ):
        raise codes.conflict(
            f"pipeline {name!r} already exists in the group", codes.PIPELINE_EXISTS
        )


def insert_pipeline(
    db: Database, group: Row, creator: tuple[str, str], pipeline: Normalized, now: str
) -> str:
    pipeline_id = secrets.token_hex(16)
    with db.transaction():
        _check_unique_name(db, group["id"], pipeline.spec["name"], pipeline_id)
        db.execute(
            "INSERT INTO pipelines (id, group_id, domain_id, name, creator_id, creator_name, spec,"
            " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pipeline_id,
                group["id"],
                group["domain_id"],
                pipeline.spec["name"],
                creator[0],
                creator[1],
                json.dumps(pipeline.spec),
                now,
                now,
            ),
        )
        sync_webhooks(db, pipeline_id, pipeline)
    return pipeline_id


def update_pipeline(db: Database, row: Row, pipeline: Normalized, now: str) -> None:
    with db.transaction():
        _check_unique_name(db, row["group_id"], pipeline.spec["name"], row["id"])
        db.execute(
            "UPDATE pipelines SET name = ?, spec = ?, updated = ? WHERE id = ?",
            (pipeline.spec["name"], json.dumps(pipeline.spec), now, row["id"]),
        )
        sync_webhooks(db, row["id"], pipeline)


def sync_webhooks(db: Database, pipeline_id: str, pipeline: Normalized) -> None:
    """Keep one webhook per trigger; existing ones keep their id (and secret unless resent)."""
    existing = {
        (r["stage_id"], r["trigger_index"]): r
        for r in db.all("SELECT * FROM webhooks WHERE pipeline_id = ?", (pipeline_id,))
    }
    for key, secret in pipeline.secrets.items():
        row = existing.pop(key, None)
        if row is None:
            db.execute(
                "INSERT INTO webhooks (id, pipeline_id, stage_id, trigger_index, secret)"
                " VALUES (?, ?, ?, ?, ?)",
                (secrets.token_urlsafe(24), pipeline_id, key[0], key[1], secret or None),
            )
        elif secret is not None:  # "" removes the secret, a value replaces it
            db.execute("UPDATE webhooks SET secret = ? WHERE id = ?", (secret or None, row["id"]))
    for row in existing.values():
        db.execute("DELETE FROM webhooks WHERE id = ?", (row["id"],))


def list_pipelines(
    db: Database, domain_id: str, criteria: dict[str, str], page: Page
) -> tuple[list[Row], int]:
    where, args = ["p.domain_id = ?"], [domain_id]
    if criteria.get("name"):
        where.append("instr(lower(p.name), lower(?)) > 0")  # fuzzy: substring, any case
        args.append(criteria["name"])
    if criteria.get("group_id"):
        where.append("CAST(p.group_id AS TEXT) = ?")
        args.append(criteria["group_id"])
    if criteria.get("group_name"):
        where.append("g.name = ?")
        args.append(criteria["group_name"])
    sql = " FROM pipelines p JOIN pipeline_groups g ON g.id = p.group_id WHERE " + " AND ".join(
        where
    )
    total = int(db.scalar("SELECT count(*)" + sql, args))
    rows = db.all(
        "SELECT p.*, g.name AS group_name" + sql + " ORDER BY p.created, p.id LIMIT ? OFFSET ?",
        [*args, page.limit, page.offset],
    )
    return rows, total


def render_pipeline(db: Database, row: Row, base_url: str) -> dict[str, Any]:
    """The pipeline's wire object with generated webhook URLs filled into its triggers."""
    spec = copy.deepcopy(json.loads(row["spec"]))
    hooks = {
        (r["stage_id"], r["trigger_index"]): r
        for r in db.all("SELECT * FROM webhooks WHERE pipeline_id = ?", (row["id"],))
    }
    _fill_triggers(spec["pre_operation"], None, hooks, base_url)
    for stage in spec["stages"]:
        if stage.get("pre_operation"):
            _fill_triggers(stage["pre_operation"], stage["id"], hooks, base_url)
    return {
        "id": row["id"],
        "name": spec["name"],
        "group_id": row["group_id"],
        "group_name": row["group_name"],
        "description": spec["description"],
        "source": spec["source"],
        "creator_id": row["creator_id"],
        "creator_name": row["creator_name"],
        "created_at": row["created"],
        "updated_at": row["updated"],
        "params": spec["params"],
        "pre_operation": spec["pre_operation"],
        "post_operation": spec["post_operation"],
        "stages": spec["stages"],
    }


def _fill_triggers(
    pre: dict[str, Any],
    stage_id: str | None,
    hooks: dict[tuple[str | None, int], Row],
    base_url: str,
) -> None:
    for index, trigger in enumerate(pre.get("triggers", [])):
        hook = hooks.get((stage_id, index))
        if hook is None:
            continue
        trigger["webhook"]["url"] = base_url + WEBHOOK_PATH + hook["id"]
        trigger["webhook"]["signature"] = "hmac-sha256" if hook["secret"] else "none"
