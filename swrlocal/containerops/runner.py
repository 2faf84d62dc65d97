"""The pipeline runner: asyncio tasks, a bounded number of concurrent runs, durable state.

A run executes a segment of its stages in order, one job per stage, in the workspace
`<data dir>/runs/<run id>/`. Runs beyond `max_concurrent_runs` stay `waiting` until a slot is
free. A retry adds a job to the latest run and continues from that stage in the same workspace; a
rollback adds one job to a deploy stage. On start, jobs a crash left active are marked Failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from swrlocal import identity
from swrlocal.containerops import codes, oci, templates
from swrlocal.containerops.journal import ACTIVE_RUN_STATUSES, Journal, LogHub
from swrlocal.containerops.model import DEPLOY_SERVICES
from swrlocal.containerops.steps import EXECUTORS, StepContext, StepFailure
from swrlocal.db import Row
from swrlocal.state import Backend

logger = logging.getLogger("swrlocal.containerops")
PROCESS_TIMEOUT = 3600.0  # default bound of a step without a timeout_reset handler
REVIEW_TIMEOUT = 7 * 86400.0
MAX_RESTARTS = 5
FAILURE_STATUS = {"Timeout": "timeout", "Cancel": "cancel", "Failed": "stage_exception"}


@dataclass(frozen=True)
class Segment:
    first: int
    last: int  # inclusive
    mode: str  # mode of the first job: run, retry or rollback


class Runner:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.db = backend.db
        self.clock = backend.clock
        self.settings = backend.settings
        self.hub = LogHub()
        self.journal = Journal(self.db, self.clock, self.hub)
        self.slots = asyncio.Semaphore(max(1, self.settings.max_concurrent_runs))
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.reviews: dict[str, asyncio.Event] = {}
        self.http = httpx.AsyncClient(timeout=oci.TIMEOUT, trust_env=False)
        self.root = self.settings.data_dir / "runs"

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        templates.seed(self.db, self.journal.now())
        failed = self.journal.recover()
        if failed:
            logger.warning(
                "marked %d step(s) Failed that were active when the server stopped", failed
            )

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.http.aclose()

    # starting work

    def is_busy(self, pipeline_id: str) -> bool:
        run = self.journal.latest_run(pipeline_id)
        return run is not None and run["status"] in ACTIVE_RUN_STATUSES

    def _check_idle(self, pipeline_id: str) -> None:
        if self.is_busy(pipeline_id):
            raise codes.conflict("the pipeline is running", codes.PIPELINE_BUSY)

    def start_run(
        self,
        pipeline: Row,
        origin: str,
        params: dict[str, str],
        creator: tuple[str, str],
        stage_index: int | None = None,
    ) -> str:
        """Start the whole pipeline, or one stage of it (a stage-level trigger)."""
        self._check_idle(pipeline["id"])
        spec = json.loads(pipeline["spec"])
        values = {p["name"]: p["value"] for p in spec["params"]}
        values.update(params)
        run_id = self.journal.create_run(pipeline, origin, spec["stages"], values, creator)
        last = len(spec["stages"]) - 1 if stage_index is None else stage_index
        self._launch(run_id, Segment(stage_index or 0, last, "run"))
        return run_id

    def retry(self, pipeline: Row, index: int) -> str:
        run = self._latest_run_with(pipeline, index)
        self.journal.set_run(run["id"], "waiting")
        stages = json.loads(run["spec"])
        self._launch(run["id"], Segment(index, len(stages) - 1, "retry"))
        return str(run["id"])

    def rollback(self, pipeline: Row, index: int) -> str:
        run = self._latest_run_with(pipeline, index)
        stage = json.loads(run["spec"])[index]
        if stage["service_name"] not in DEPLOY_SERVICES:
            raise codes.bad("only deploy stages can be rolled back", codes.INVALID_OPERATION)
        if self.rollback_image(pipeline["id"], stage["id"]) is None:
            raise codes.missing(
                "no earlier successful deployment to roll back to", codes.NOTHING_TO_ROLL_BACK
            )
        self.journal.set_run(run["id"], "rollbacking")
        self._launch(run["id"], Segment(index, index, "rollback"))
        return str(run["id"])

    def _latest_run_with(self, pipeline: Row, index: int) -> Row:
        self._check_idle(pipeline["id"])
        run = self.journal.latest_run(pipeline["id"])
        if run is None or index >= len(json.loads(run["spec"])):
            raise codes.missing("the stage has not run yet", codes.JOB_NOT_FOUND)
        return run

    def _launch(self, run_id: str, segment: Segment) -> None:
        task = asyncio.create_task(self._execute(run_id, segment), name=f"run-{run_id}")
        self.tasks[run_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(run_id, None))

    # executing

    async def _execute(self, run_id: str, segment: Segment) -> None:
        async with self.slots:
            run = self.journal.run(run_id)
            rolling = segment.mode == "rollback"
            fields = {} if run["start_time"] else {"start_time": self.journal.now()}
            self.journal.set_run(run_id, "rollbacking" if rolling else "running", **fields)
            try:
                status = await self._stages(run_id, segment)
            except asyncio.CancelledError:
                self.journal.set_run(run_id, "runtime_exception")
                raise
            except Exception:
                logger.exception("run %s failed in the runner", run_id)
                status = "runtime_exception"
            if rolling:
                status = "rollback_success" if status == "success" else "rollback_failed"
            self.journal.set_run(run_id, status)

    async def _stages(self, run_id: str, segment: Segment) -> str:
        stages = json.loads(self.journal.run(run_id)["spec"])
        workspace = self.root / run_id
        workspace.mkdir(parents=True, exist_ok=True)
        index, mode, restarts = segment.first, segment.mode, 0
        while index <= segment.last:
            stage = stages[index]
            self.journal.set_run(run_id, self.journal.run(run_id)["status"], stage_index=index)
            state = await self._stage(run_id, stage, index, mode, workspace)
            mode = "run"
            handler = (stage.get("exception_handler") or {}).get("type")
            if state == "Successful" or handler == "ignore_error":
                index += 1
            elif handler == "return_to_start" and restarts < _max_restarts(stage):
                restarts += 1
                index = segment.first
            else:
                return FAILURE_STATUS.get(state, "stage_exception")
        return "success"

    async def _stage(
        self, run_id: str, stage: dict[str, Any], index: int, mode: str, workspace: Path
    ) -> str:
        run = self.journal.run(run_id)
        waiting = stage["service_name"] == "test_review"
        creator = (run["creator_id"], run["creator_name"])
        job_id = self.journal.create_job(
            run, stage, index, mode, "Waiting" if waiting else "Building", creator
        )
        if waiting:
            users = stage["params"].get("review_users", [])
            review = [{"user_name": u["user_name"], "result": "waiting"} for u in users]
            self.db.execute("UPDATE jobs SET review = ? WHERE id = ?", (json.dumps(review), job_id))
        params = json.loads(run["params"])
        ctx = StepContext(self, run, job_id, stage, index, mode, params, workspace)
        ctx.log(f"stage {index} {stage['name']!r} ({stage['service_name']}, {mode}) started")
        timeout = _timeout(stage)
        try:
            state = await asyncio.wait_for(EXECUTORS[stage["service_name"]](ctx), timeout)
        except TimeoutError:
            ctx.log(f"the step timed out after {timeout:g} s; its processes were killed")
            state = "Timeout"
        except StepFailure as exc:
            ctx.log(f"error: {exc}")
            state = "Failed"
        except oci.RegistryError as exc:
            ctx.log(f"registry error: {exc}")
            state = "Failed"
        except asyncio.CancelledError:
            ctx.log("the step was interrupted because the server is stopping")
            self.journal.set_job(job_id, "Failed")
            raise
        except Exception as exc:
            logger.exception("step %s crashed", job_id)
            ctx.log(f"internal error: {type(exc).__name__}: {exc}")
            state = "Failed"
        finally:
            self.reviews.pop(job_id, None)
        ctx.log(f"stage {index} finished: {state}")
        self.journal.set_job(job_id, state)
        return state

    # helpers used by the steps

    def set_output(self, job_id: str, output: dict[str, Any]) -> None:
        self.db.execute("UPDATE jobs SET output = ? WHERE id = ?", (json.dumps(output), job_id))

    @contextlib.asynccontextmanager
    async def registry_session(self, ctx: StepContext) -> AsyncIterator[oci.RegistryClient]:
        """A registry client holding a fresh API token of the run's creator, revoked after."""
        token = identity.create_token(self.db, ctx.run["creator_id"], self.clock)
        try:
            yield oci.RegistryClient(self.settings.base_url, token, self.http)
        finally:
            identity.revoke_token(self.db, token, self.clock)

    def digest_in_run(self, run_id: str, image: str) -> str | None:
        """The digest a dockerfile_build of this run pushed for `image` (namespace/repo:tag)."""
        for row in self.db.all(
            "SELECT output FROM jobs WHERE run_id = ? AND state = 'Successful' ORDER BY rowid DESC",
            (run_id,),
        ):
            output = json.loads(row["output"])
            if output.get("image") == image and output.get("digest"):
                return str(output["digest"])
        return None

    def record_deployment(self, ctx: StepContext, target: str, image: str, mode: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO deployments (pipeline_id, stage_id, job_id, target, image, mode, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                ctx.run["pipeline_id"],
                ctx.stage["id"],
                ctx.job_id,
                target,
                image,
                mode,
                self.journal.now(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def deployment_succeeded(self, deployment_id: int) -> None:
        self.db.execute("UPDATE deployments SET succeeded = 1 WHERE id = ?", (deployment_id,))

    def rollback_image(self, pipeline_id: str, stage_id: str) -> str | None:
        """The image of the successful deployment before the latest successful one."""
        rows = self.db.all(
            "SELECT image FROM deployments WHERE pipeline_id = ? AND stage_id = ? AND succeeded = 1"
            " ORDER BY id DESC LIMIT 2",
            (pipeline_id, stage_id),
        )
        return str(rows[1]["image"]) if len(rows) == 2 else None

    # reviews

    async def wait_for_review(self, job_id: str) -> str:
        while True:
            decision = self._review_decision(job_id)
            if decision is not None:
                return decision
            event = self.reviews.setdefault(job_id, asyncio.Event())
            await event.wait()
            event.clear()

    def _review_decision(self, job_id: str) -> str | None:
        job = self.journal.job(job_id)
        votes = json.loads(job["review"])
        stage = json.loads(self.journal.run(job["run_id"])["spec"])[job["stage_index"]]
        results = [v["result"] for v in votes]
        if "refuse" in results:
            return "refuse"
        if not results:
            return None
        if stage["params"].get("review_mode", "all") == "one":
            return "pass" if "pass" in results else None
        return "pass" if all(r == "pass" for r in results) else None

    def review(self, job: Row, stage: dict[str, Any], user_name: str, result: str) -> None:
        """Record one reviewer's decision on a Waiting test_review job and wake the step."""
        votes = json.loads(job["review"])
        listed = [u["user_name"] for u in stage["params"].get("review_users", [])]
        if listed and user_name not in listed:
            raise codes.SWRError(
                403, codes.NOT_A_REVIEWER, f"{user_name} is not a reviewer of this step"
            )
        current = next((v for v in votes if v["user_name"] == user_name), None)
        if current is None:
            current = {"user_name": user_name, "result": "waiting"}
            votes.append(current)
        if current["result"] != "waiting":
            raise codes.conflict(f"{user_name} has already reviewed this step", codes.NOT_WAITING)
        current["result"] = result
        self.db.execute("UPDATE jobs SET review = ? WHERE id = ?", (json.dumps(votes), job["id"]))
        self.journal.log(job["id"], f"review: {user_name} answered {result}")
        self.reviews.setdefault(job["id"], asyncio.Event()).set()

    def remove_workspaces(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            shutil.rmtree(self.root / run_id, ignore_errors=True)


def _timeout(stage: dict[str, Any]) -> float:
    handler = stage.get("exception_handler") or {}
    if handler.get("type") == "timeout_reset":
        return float(handler["params"]["timespan"]) * 3600
    return REVIEW_TIMEOUT if stage["service_name"] == "test_review" else PROCESS_TIMEOUT


def _max_restarts(stage: dict[str, Any]) -> int:
    value = ((stage.get("exception_handler") or {}).get("params") or {}).get("max_restarts", 1)
    return min(MAX_RESTARTS, int(value)) if isinstance(value, int) else 1


async def start_runner(app: Starlette) -> Runner:
    """Lifespan hook: create the runner on `app.state.containerops` and recover crashed jobs."""
    runner = Runner(app.state.backend)
    await runner.start()
    app.state.containerops = runner
    return runner
