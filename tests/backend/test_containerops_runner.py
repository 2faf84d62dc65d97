"""The pipeline runner end to end: real git, bash, image build and push, reviews, deploys."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.backend.test_containerops import Ops, shell_stage
from tests.conftest import start_backend, stop

if TYPE_CHECKING:
    from tests.conftest import BackendServer


@pytest.fixture(scope="module")
def ops(backend: BackendServer) -> Ops:
    return Ops(backend.url, backend.admin_token)


def git_repo(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    run = {"cwd": path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q", "-b", "main"], **run)  # type: ignore[call-overload]
    commit(path, text)
    return path


def commit(path: Path, text: str) -> None:
    (path / "hello.txt").write_text(text)
    run = {"cwd": path, "check": True, "capture_output": True}
    subprocess.run(["git", "add", "hello.txt"], **run)  # type: ignore[call-overload]
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", text],
        **run,
    )  # type: ignore[call-overload]


def create_org(backend: BackendServer, name: str) -> None:
    answer = httpx.post(
        f"{backend.url}/v2/manage/namespaces",
        json={"namespace": name},
        headers={"X-Auth-Token": backend.admin_token},
    )
    assert answer.status_code == 201, answer.text


IMAGE = {"type": "image", "params": {"namespace": "", "repository": "web", "tag": "v1"}}


def delivery_pipeline(repo: Path, org: str, deployed: Path) -> dict[str, Any]:
    image = {**IMAGE, "params": {**IMAGE["params"], "namespace": org}}
    script = 'for i in 1 2 3; do echo "line $i: $(cat hello.txt)"; sleep 0.2; done'
    return {
        "name": "delivery",
        "stages": [
            {
                "name": "checkout",
                "service_name": "code_source",
                "params": {"git_type": "gitlab", "url": str(repo), "branch": "main"},
            },
            shell_stage(script, "test"),
            {
                "name": "image",
                "service_name": "dockerfile_build",
                "params": {
                    "dockerfile_content": (
                        "FROM scratch\nCOPY hello.txt /hello.txt\n"
                        'LABEL stage=ci\nCMD ["/hello.txt"]\n'
                    )
                },
                "output_resources": [image],
            },
            {
                "name": "review",
                "service_name": "test_review",
                "params": {"review_mode": "one", "review_users": [{"user_name": "admin"}]},
            },
            {
                "name": "deploy",
                "service_name": "official_deploy",
                "params": {
                    "deploy_mode": "cceMode",
                    "target": {
                        "name": "production",
                        "hook_command": f'echo "$SWR_DEPLOY_IMAGE" > {deployed}',
                    },
                },
                "input_resources": [image],
            },
        ],
    }


def review(ops: Ops, pipeline_id: str, index: int, result: str) -> httpx.Response:
    return ops.http.put(
        f"/v3/manage/pipelines/{pipeline_id}/stages/{index}/start_info",
        json={"mode": "review", "review_result": result},
    )


def deliver_once(ops: Ops, pipeline_id: str) -> str:
    """Run the delivery pipeline through its review; returns the pushed digest."""
    ops.start(pipeline_id)
    ops.wait_job(pipeline_id, 3, "Waiting")
    assert ops.show(pipeline_id)["status"]["status"] == "running"
    assert review(ops, pipeline_id, 3, "pass").status_code == 201
    status = ops.wait_status(pipeline_id, "success", "stage_exception", "runtime_exception")
    assert status["status"] == "success", [ops.lines(pipeline_id, i) for i in range(5)]
    pushed = [line for line in ops.lines(pipeline_id, 2) if line.startswith("pushed ")]
    return pushed[0].rsplit(" ", 1)[1]


def test_delivery_pipeline_build_review_deploy_and_rollback(
    ops: Ops, backend: BackendServer, tmp_path: Path, skopeo: str
) -> None:
    # given a git repository, an organization and a five-stage pipeline
    repo = git_repo(tmp_path / "repo", "first")
    org = f"ops{int(time.time() * 1000) % 10**8}"
    create_org(backend, org)
    deployed = tmp_path / "deployed.txt"
    created = ops.create(ops.group("cd"), delivery_pipeline(repo, org, deployed))
    pipeline_id = created["id"]

    # when it runs the first time
    first = deliver_once(ops, pipeline_id)

    # then every stage has one Successful job and the expected log lines
    for index in range(5):
        jobs = ops.jobs(pipeline_id, index)
        assert [j["state"] for j in jobs] == ["Successful"]
        assert jobs[0]["progress"] == 100 and jobs[0]["creator_name"] == "admin"
    assert [line for line in ops.lines(pipeline_id, 1) if line.startswith("line ")] == [
        "line 1: first",
        "line 2: first",
        "line 3: first",
    ]
    assert any(line.startswith("checked out commit ") for line in ops.lines(pipeline_id, 0))
    assert "review: admin answered pass" in ops.lines(pipeline_id, 3)
    host = backend.host
    assert deployed.read_text().strip() == f"{host}/{org}/web@{first}"
    status = ops.show(pipeline_id)["status"]
    assert [s["status"] for s in status["stages"]] == ["Successful"] * 5
    assert status["stages"][3]["state"]["review_results"] == [
        {"user_name": "admin", "result": "pass"}
    ]

    # and the image pulls back with skopeo, with the file and config of the Dockerfile
    layout = tmp_path / "pulled"
    subprocess.run(
        [
            skopeo,
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            f"x:{backend.admin_token}",
            f"docker://{host}/{org}/web:v1",
            f"oci:{layout}:v1",
        ],
        check=True,
        capture_output=True,
    )
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == first
    manifest = json.loads((layout / "blobs/sha256" / first.split(":")[1]).read_text())
    config = json.loads(
        (layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_text()
    )
    assert config["config"]["Cmd"] == ["/hello.txt"]
    assert config["config"]["Labels"] == {"stage": "ci"}

    # when a second commit is delivered, then rolled back
    commit(repo, "second")
    second = deliver_once(ops, pipeline_id)
    assert second != first
    assert deployed.read_text().strip() == f"{host}/{org}/web@{second}"
    answer = ops.http.post(
        f"/v3/manage/pipelines/{pipeline_id}/stages/4/start",
        params={"mode": "rollback", "source": "rollback::true"},
    )
    assert answer.status_code == 201, answer.text
    assert (
        ops.wait_status(pipeline_id, "rollback_success", "rollback_failed")["status"]
        == "rollback_success"
    )

    # then the first image is deployed again, and the deploy history keeps all three jobs
    assert deployed.read_text().strip() == f"{host}/{org}/web@{first}"
    history = ops.jobs(pipeline_id, 4)
    assert [(j["mode"], j["state"]) for j in history] == [
        ("rollback", "Successful"),
        ("run", "Successful"),
        ("run", "Successful"),
    ]
    assert f"rolling back production to {host}/{org}/web@{first}" in ops.lines(pipeline_id, 4)
    assert f"deploying {org}/web:v1 ({second}) to production" in ops.lines(
        pipeline_id, 4, history[1]["id"]
    )
    assert (
        ops.http.post(
            f"/v3/manage/pipelines/{pipeline_id}/stages/1/start", params={"mode": "rollback"}
        ).status_code
        == 400
    )


def test_retry_makes_a_new_job_and_keeps_the_old_one(ops: Ops, tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    created = ops.create(
        ops.group("retry"),
        {
            "name": "flaky",
            "stages": [
                shell_stage(f'echo "try"; test -f {flag}'),
                shell_stage("echo after", "next"),
            ],
        },
    )
    pipeline_id = created["id"]
    ops.start(pipeline_id)
    assert ops.wait_status(pipeline_id, "stage_exception", "success")["status"] == "stage_exception"
    assert ops.jobs(pipeline_id, 1) == []

    flag.touch()
    answer = ops.http.post(f"/v3/manage/pipelines/{pipeline_id}/stages/0/start?mode=retry")
    assert answer.status_code == 201
    assert ops.wait_status(pipeline_id, "success", "stage_exception")["status"] == "success"
    jobs = ops.jobs(pipeline_id, 0)
    assert [(j["mode"], j["state"]) for j in jobs] == [("retry", "Successful"), ("run", "Failed")]
    assert "error: the script exited with status 1" in ops.lines(pipeline_id, 0, jobs[1]["id"])
    assert "the script exited with status 0" in ops.lines(pipeline_id, 0, jobs[0]["id"])
    assert ops.lines(pipeline_id, 1)[1] == "after"


def test_timeout_kills_the_whole_process_group(ops: Ops) -> None:
    created = ops.create(
        ops.group("slow"),
        {
            "name": "sleeper",
            "stages": [
                shell_stage(
                    'sleep 300 & echo "child $!"; wait',
                    exception_handler={"type": "timeout_reset", "params": {"timespan": 1.5 / 3600}},
                )
            ],
        },
    )
    pipeline_id = created["id"]
    ops.start(pipeline_id)
    assert ops.wait_status(pipeline_id, "timeout", "success")["status"] == "timeout"
    job = ops.jobs(pipeline_id, 0)[0]
    assert job["state"] == "Timeout"
    lines = ops.lines(pipeline_id, 0)
    assert "the step timed out after 1.5 s; its processes were killed" in lines
    child = int(next(line for line in lines if line.startswith("child "))[6:])
    assert _is_gone(child)


def _is_gone(pid: int) -> bool:
    """Gone, or a zombie waiting for a parent that does not reap (PID 1 in some containers)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_refused_review_cancels_the_run(ops: Ops, backend: BackendServer) -> None:
    created = ops.create(
        ops.group("gate"),
        {
            "name": "gated",
            "stages": [
                {
                    "name": "review",
                    "service_name": "test_review",
                    "params": {
                        "review_mode": "all",
                        "review_users": [{"user_name": "admin"}, {"user_name": "carol"}],
                    },
                },
                shell_stage("echo never"),
            ],
        },
    )
    pipeline_id = created["id"]
    ops.start(pipeline_id)
    ops.wait_job(pipeline_id, 0, "Waiting")

    # a user who is not a reviewer is refused
    backend.admin("user", "create", "default", "mallory")
    mallory = Ops(backend.url, backend.admin("token", "create", "default", "mallory"))
    assert review(mallory, pipeline_id, 0, "pass").status_code == 403

    assert review(ops, pipeline_id, 0, "refuse").status_code == 201
    status = ops.wait_status(pipeline_id, "cancel", "success")
    assert status["status"] == "cancel"
    assert status["stages"][0]["state"]["review_results"] == [
        {"user_name": "admin", "result": "refuse"},
        {"user_name": "carol", "result": "waiting"},
    ]
    assert ops.jobs(pipeline_id, 0)[0]["state"] == "Cancel"
    assert ops.jobs(pipeline_id, 1) == []
    assert "review refused; the run stops" in ops.lines(pipeline_id, 0)
    assert review(ops, pipeline_id, 0, "pass").status_code == 409


def test_run_without_buildah_fails_with_a_clear_message(ops: Ops) -> None:
    created = ops.create(
        ops.group("run"),
        {
            "name": "needs-run",
            "stages": [
                {
                    "name": "image",
                    "service_name": "dockerfile_build",
                    "params": {"dockerfile_content": "FROM scratch\nRUN echo hi\n"},
                    "output_resources": [
                        {**IMAGE, "params": {**IMAGE["params"], "namespace": "x"}}
                    ],
                }
            ],
        },
    )
    ops.start(created["id"])
    assert (
        ops.wait_status(created["id"], "stage_exception", "success")["status"] == "stage_exception"
    )
    lines = ops.lines(created["id"], 0)
    message = "need buildah on the server, and buildah is not installed"
    assert any(message in line for line in lines), lines


def test_long_poll_returns_when_a_line_is_written(ops: Ops, tmp_path: Path) -> None:
    go, done = tmp_path / "go", tmp_path / "done"
    script = (
        f"echo first; while [ ! -f {go} ]; do sleep 0.05; done; echo second;"
        f" while [ ! -f {done} ]; do sleep 0.05; done"
    )
    created = ops.create(ops.group("poll"), {"name": "follow", "stages": [shell_stage(script)]})
    pipeline_id = created["id"]
    ops.start(pipeline_id)
    deadline = time.monotonic() + 30
    while "first" not in (lines := ops.lines(pipeline_id, 0)) and time.monotonic() < deadline:
        time.sleep(0.05)
    offset = len(lines)

    # a plain poll at the end answers at once with no lines
    plain = ops.logs(pipeline_id, 0, offset=offset, limit=10)
    assert plain.json()["log"] == [] and plain.headers["content-range"] == f"{offset}-0/{offset}"

    # a long poll is answered by the next line while the job still runs
    result: dict[str, httpx.Response] = {}
    follower = threading.Thread(
        target=lambda: result.setdefault(
            "r", ops.logs(pipeline_id, 0, offset=offset, limit=10, wait=50)
        )
    )
    follower.start()
    time.sleep(0.3)
    go.touch()
    follower.join(60)
    body = result["r"].json()
    assert [line["content"] for line in body["log"]] == ["second"]
    assert body["state"] == "Building"
    assert result["r"].headers["content-range"] == f"{offset}-1/{offset + 1}"
    done.touch()
    assert ops.wait_status(pipeline_id, "success")["status"] == "success"
    assert ops.logs(pipeline_id, 0, wait=61).status_code == 400


def test_restart_marks_the_interrupted_job_failed(tmp_path: Path) -> None:
    server = start_backend(tmp_path / "data")
    try:
        local = Ops(server.url, server.admin_token)
        created = local.create(
            local.group("crash"),
            {
                "name": "long",
                "stages": [shell_stage("for i in $(seq 1 40); do echo tick $i; sleep 0.1; done")],
            },
        )
        pipeline_id = created["id"]
        local.start(pipeline_id)
        deadline = time.monotonic() + 30
        while "tick 1" not in local.lines(pipeline_id, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.kill()
        server.process.wait()
    finally:
        stop(server.process)

    restarted = start_backend(tmp_path / "data")
    try:
        local = Ops(restarted.url, restarted.admin_token)
        job = local.jobs(pipeline_id, 0)[0]
        assert job["state"] == "Failed"
        lines = local.lines(pipeline_id, 0)
        assert (
            lines[-1] == "swr-local stopped while this step was active; the step is marked Failed"
        )
        assert "tick 1" in lines
        assert re.fullmatch(r"[0-9a-f]{32}", job["id"])
        assert local.show(pipeline_id)["status"]["status"] == "runtime_exception"
    finally:
        stop(restarted.process)


def test_exception_handlers_ignore_error_and_return_to_start(ops: Ops, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    # the second stage fails the first time only; return_to_start runs the run again from stage 0
    flaky = f'echo x >> {counter}; [ "$(wc -l < {counter})" -ge 3 ]'
    created = ops.create(
        ops.group("handlers"),
        {
            "name": "handled",
            "stages": [
                shell_stage(f"echo x >> {counter}", "count"),
                shell_stage(flaky, "flaky", exception_handler={"type": "return_to_start"}),
                shell_stage("exit 3", "broken", exception_handler={"type": "ignore_error"}),
                shell_stage("echo done", "last"),
            ],
        },
    )
    pipeline_id = created["id"]
    ops.start(pipeline_id)
    assert ops.wait_status(pipeline_id, "success", "stage_exception")["status"] == "success"
    assert [j["state"] for j in ops.jobs(pipeline_id, 0)] == ["Successful", "Successful"]
    assert [j["state"] for j in ops.jobs(pipeline_id, 1)] == ["Successful", "Failed"]
    assert [j["state"] for j in ops.jobs(pipeline_id, 2)] == ["Failed"]
    assert "done" in ops.lines(pipeline_id, 3)


def test_runs_beyond_the_limit_wait_for_a_slot(tmp_path: Path) -> None:
    server = start_backend(tmp_path / "data", env={"SWR_MAX_CONCURRENT_RUNS": "1"})
    try:
        local = Ops(server.url, server.admin_token)
        group = local.group("slots")
        gate = {"name": "gate", "service_name": "test_review", "params": {"review_mode": "one"}}
        first = local.create(group, {"name": "first", "stages": [gate]})["id"]
        second = local.create(group, {"name": "second", "stages": [shell_stage("echo ran")]})["id"]
        local.start(first)
        local.wait_job(first, 0, "Waiting")
        local.start(second)

        # the second run stays queued while the first holds the only slot
        assert local.show(second)["status"]["status"] == "waiting"
        assert local.jobs(second, 0) == []
        assert local.http.post(f"/v3/manage/pipelines/{first}/start").status_code == 409

        assert review(local, first, 0, "pass").status_code == 201
        assert local.wait_status(second, "success")["status"] == "success"
        assert local.show(first)["status"]["status"] == "success"
    finally:
        stop(server.process)
