"""Durable record of runs, jobs and log lines, and the wake-up signal for log followers.

Every write goes to SQLite before anyone is told about it, so a follower woken by `LogHub`
always finds the new line in the database, and a crash loses nothing that was announced.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from swrlocal.clock import Clock, parse_rfc3339, rfc3339
from swrlocal.db import Database, Row

ACTIVE_STATES = ("Building", "Waiting")
FINAL_STATES = ("Timeout", "Failed", "Successful", "Cancel")
ACTIVE_RUN_STATUSES = ("waiting", "running", "rollbacking")


class LogHub:
    """One `asyncio.Event` per followed job, set and replaced whenever the job changes."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, job_id: str) -> asyncio.Event:
        """Take the event before reading the database, so no change slips in between."""
        return self._events.setdefault(job_id, asyncio.Event())

    def notify(self, job_id: str) -> None:
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()


class Journal:
    def __init__(self, db: Database, clock: Clock, hub: LogHub) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub

    def now(self) -> str:
        return rfc3339(self.clock.now())

    # runs

    def create_run(
        self,
        pipeline: Row,
        origin: str,
        stages: list[dict[str, Any]],
        params: dict[str, str],
        creator: tuple[str, str],
    ) -> str:
        run_id = secrets.token_hex(16)
        now = self.now()
        self.db.execute(
            "INSERT INTO runs (id, pipeline_id, status, stage_index, origin, spec, params,"
            " creator_id, creator_name, created, updated)"
            " VALUES (?, ?, 'waiting', 0, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                pipeline["id"],
                origin,
                json.dumps(stages),
                json.dumps(params),
                creator[0],
                creator[1],
                now,
                now,
            ),
        )
        return run_id

    def run(self, run_id: str) -> Row:
        row = self.db.one("SELECT * FROM runs WHERE id = ?", (run_id,))
        assert row is not None, run_id
        return row

    def latest_run(self, pipeline_id: str) -> Row | None:
        return self.db.one(
            "SELECT * FROM runs WHERE pipeline_id = ? ORDER BY rowid DESC LIMIT 1", (pipeline_id,)
        )

    def set_run(self, run_id: str, status: str, **fields: Any) -> None:
        now = self.now()
        values = {"status": status, "updated": now, **fields}
        if status in ACTIVE_RUN_STATUSES:
            values["end_time"] = None
        elif status not in ACTIVE_RUN_STATUSES:
            values.setdefault("end_time", now)
        columns = ", ".join(f"{key} = ?" for key in values)
        self.db.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*values.values(), run_id))

    # jobs

    def create_job(
        self,
        run: Row,
        stage: dict[str, Any],
        index: int,
        mode: str,
        state: str,
        creator: tuple[str, str],
    ) -> str:
        job_id = secrets.token_hex(16)
        now = self.now()
        self.db.execute(
            "INSERT INTO jobs (id, run_id, pipeline_id, stage_id, stage_index, mode, state,"
            " progress, creator_id, creator_name, created_at, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (
                job_id,
                run["id"],
                run["pipeline_id"],
                stage["id"],
                index,
                mode,
                state,
                creator[0],
                creator[1],
                now,
                now,
            ),
        )
        return job_id

    def job(self, job_id: str) -> Row:
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        assert row is not None, job_id
        return row

    def log(self, job_id: str, content: str) -> None:
        with self.db.transaction():
            seq = int(self.db.scalar("SELECT log_num FROM jobs WHERE id = ?", (job_id,)))
            self.db.execute(
                "INSERT INTO job_logs (job_id, seq, content, created_at) VALUES (?, ?, ?, ?)",
                (job_id, seq, content, self.now()),
            )
            self.db.execute("UPDATE jobs SET log_num = ? WHERE id = ?", (seq + 1, job_id))
        self.hub.notify(job_id)

    def set_job(
        self, job_id: str, state: str, *, progress: int | None = None, **fields: Any
    ) -> None:
        values: dict[str, Any] = {"state": state, **fields}
        if state in FINAL_STATES:
            values["progress"] = 100
            values["ended_at"] = self.now()
        elif progress is not None:
            values["progress"] = progress
        columns = ", ".join(f"{key} = ?" for key in values)
        self.db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*values.values(), job_id))
        self.hub.notify(job_id)

    def recover(self) -> int:
        """Fail the jobs and runs a crash left active; each job gets a log line saying why."""
        rows = self.db.all("SELECT id FROM jobs WHERE state IN ('Building', 'Waiting')")
        for row in rows:
            self.log(
                row["id"], "swr-local stopped while this step was active; the step is marked Failed"
            )
            self.set_job(row["id"], "Failed")
        self.db.execute(
            "UPDATE runs SET status = 'runtime_exception', end_time = ?, updated = ?"
            " WHERE status IN ('waiting', 'running', 'rollbacking')",
            (self.now(), self.now()),
        )
        return len(rows)


def duration_ms(row: Row, now: str) -> int:
    if not row["started_at"]:
        return 0
    end = parse_rfc3339(row["ended_at"] or now)
    return max(0, int((end - parse_rfc3339(row["started_at"])).total_seconds() * 1000))


def job_view(row: Row, now: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "duration": duration_ms(row, now),
        "progress": row["progress"],
        "state": row["state"],
        "creator_id": row["creator_id"],
        "creator_name": row["creator_name"],
        "created_at": row["created_at"],
        "log_num": row["log_num"],
        "mode": row["mode"],
        "run_id": row["run_id"],
    }
