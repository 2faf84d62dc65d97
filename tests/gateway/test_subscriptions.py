"""Live step logs and pipeline status over websockets, against the real backend.

The gateway runs under uvicorn in a thread (websockets need a real server); clients are the
`websockets` library speaking `graphql-transport-ws` and the legacy `graphql-ws`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.settings import Settings
from tests.backend.test_containerops import Ops, shell_stage
from tests.conftest import BackendServer, start_backend, stop
from tests.gateway.test_subscriptions_support import (
    LEGACY_WS,
    TRANSPORT_WS,
    Subscription,
    metric,
    serve_gateway,
)

STEP_LOG = """
subscription($pipeline: String!, $from: Int!) {
  stepLog(pipelineId: $pipeline, stageIndex: 0, fromOffset: $from) {
    offset content state final jobId
  }
}"""
STATUS = """
subscription($pipeline: String!) {
  pipelineStatus(pipelineId: $pipeline) { status runId stages { index state } }
}"""
LOG_ROUTE = "/v3/manage/pipelines/{pipeline_id}/stages/{stage_index}/jobs/{job_id}/logs"
_names = itertools.count()


@pytest.fixture(scope="module")
def gateway_url(backend: BackendServer) -> Iterator[str]:
    settings = Settings(backend_url=backend.url, subscription_recheck_seconds=0.5)
    with serve_gateway(settings) as url:
        yield url


@pytest.fixture(scope="module")
def quiet_gateway_url(backend: BackendServer) -> Iterator[str]:
    """Default re-check period (30 s), so a short test sees no re-check calls."""
    with serve_gateway(Settings(backend_url=backend.url)) as url:
        yield url


@pytest.fixture(scope="module")
def ops(backend: BackendServer) -> Ops:
    return Ops(backend.url, backend.admin_token)


def gated_pipeline(ops: Ops, tmp_path: Path, lines: int) -> tuple[str, Path]:
    """A pipeline whose step prints `lines` numbered lines once the file `go` exists."""
    go = tmp_path / f"go-{next(_names)}"
    script = (f"while [ ! -f {go} ]; do sleep 0.02; done;"
              f' for i in $(seq 1 {lines}); do echo "line $i"; sleep 0.02; done')
    created = ops.create(ops.group("sub"), {"name": "follow", "stages": [shell_stage(script)]})
    return created["id"], go


def start_and_wait(ops: Ops, pipeline_id: str) -> None:
    ops.start(pipeline_id)
    ops.wait_job(pipeline_id, 0, "Building")


def expected_log(lines: int) -> list[str]:
    return [
        "stage 0 'script' (jenkins_build, run) started",
        *(f"line {i}" for i in range(1, lines + 1)),
        "the script exited with status 0",
        "stage 0 finished: Successful",
    ]


def contents(subscription: Subscription) -> list[str]:
    return [p["stepLog"]["content"] for p in subscription.payloads]


def offsets(subscription: Subscription) -> list[int]:
    return [p["stepLog"]["offset"] for p in subscription.payloads]


async def wait_for_subscribers(url: str, count: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            text = (await client.get(f"{url}/metrics")).text
            if metric(text, "gateway_subscription_subscribers", 'kind="log"') == count:
                return
            await asyncio.sleep(0.025)
    raise AssertionError(f"{count} subscribers did not attach")


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_step_log_streams_every_line_once_in_order_then_completes(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path, protocol: str
) -> None:
    # given a running step that prints 12 lines once released
    pipeline_id, go = gated_pipeline(ops, tmp_path, 12)
    start_and_wait(ops, pipeline_id)

    # when a client subscribes from offset 0 and the step is released
    client = Subscription(gateway_url, protocol, backend.admin_token)
    task = asyncio.create_task(client.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
    await wait_for_subscribers(gateway_url, 1)
    go.touch()
    await asyncio.wait_for(task, 60)

    # then it got the whole log once, in order, the last event final and Successful
    assert client.errors == [] and client.completed
    assert contents(client) == expected_log(12) == ops.lines(pipeline_id, 0)
    assert offsets(client) == list(range(15))
    last = client.payloads[-1]["stepLog"]
    assert (last["state"], last["final"]) == ("SUCCESSFUL", True)
    assert [p["stepLog"]["final"] for p in client.payloads].count(True) == 1
    assert {p["stepLog"]["jobId"] for p in client.payloads} == {ops.jobs(pipeline_id, 0)[0]["id"]}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_reconnect_with_from_offset_gets_each_remaining_line_once(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path, protocol: str
) -> None:
    # given a client that leaves after 5 lines of a running step
    pipeline_id, go = gated_pipeline(ops, tmp_path, 20)
    start_and_wait(ops, pipeline_id)
    first = Subscription(gateway_url, protocol, backend.admin_token, stop_after=5)
    task = asyncio.create_task(first.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
    await wait_for_subscribers(gateway_url, 1)
    go.touch()
    await asyncio.wait_for(task, 60)
    assert offsets(first) == [0, 1, 2, 3, 4] and not first.completed

    # when it reconnects from the offset after the last line it got
    again = Subscription(gateway_url, protocol, backend.admin_token)
    await asyncio.wait_for(again.run(STEP_LOG, {"pipeline": pipeline_id, "from": 5}), 60)

    # then both halves together are the whole log, each line once
    assert again.errors == [] and again.completed
    assert offsets(again) == list(range(5, 23))
    assert contents(first) + contents(again) == expected_log(20)


async def test_finished_job_replays_and_completes_and_past_end_gets_a_closing_event(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    pipeline_id, go = gated_pipeline(ops, tmp_path, 3)
    go.touch()
    ops.start(pipeline_id)
    ops.wait_status(pipeline_id, "success")

    replay = Subscription(gateway_url, TRANSPORT_WS, backend.admin_token)
    await asyncio.wait_for(replay.run(STEP_LOG, {"pipeline": pipeline_id, "from": 2}), 30)
    past = Subscription(gateway_url, TRANSPORT_WS, backend.admin_token)
    await asyncio.wait_for(past.run(STEP_LOG, {"pipeline": pipeline_id, "from": 6}), 30)

    assert contents(replay) == expected_log(3)[2:] and replay.completed
    assert replay.payloads[-1]["stepLog"]["final"] is True
    assert [p["stepLog"] for p in past.payloads] == [{
        "offset": 6, "content": None, "state": "SUCCESSFUL", "final": True,
        "jobId": ops.jobs(pipeline_id, 0)[0]["id"],
    }]


async def test_200_subscribers_share_one_backend_reader_and_get_identical_logs(
    quiet_gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    gateway_url = quiet_gateway_url
    # given 200 subscribers attached to one running step, half on each protocol
    pipeline_id, go = gated_pipeline(ops, tmp_path, 30)
    start_and_wait(ops, pipeline_id)
    before_backend = backend_log_requests(backend)
    before_reads = feed_reads(gateway_url)
    clients = [Subscription(gateway_url, (TRANSPORT_WS, LEGACY_WS)[i % 2], backend.admin_token)
               for i in range(200)]
    tasks = [asyncio.create_task(c.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
             for c in clients]
    await wait_for_subscribers(gateway_url, 200)

    # when the step prints its 30 lines
    go.touch()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)

    # then every subscriber has the same complete log
    assert all(c.errors == [] and c.completed for c in clients)
    assert {tuple(contents(c)) for c in clients} == {tuple(expected_log(30))}

    # and the backend served one join read per subscriber plus one reader for the job
    started = metric(gateway_metrics(gateway_url), "gateway_subscription_feeds_started_total",
                     'kind="log"')
    reads = feed_reads(gateway_url) - before_reads
    assert started == 1.0
    assert backend_log_requests(backend) - before_backend == 200 + reads
    assert 1 <= reads <= 33  # at most one read per line, whatever the number of subscribers


async def test_subscribers_without_access_are_refused(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    pipeline_id, go = gated_pipeline(ops, tmp_path, 1)
    go.touch()
    ops.start(pipeline_id)
    ops.wait_status(pipeline_id, "success")
    stranger = other_account_token(backend)

    anonymous = Subscription(gateway_url, TRANSPORT_WS, None)
    outsider = Subscription(gateway_url, LEGACY_WS, stranger)
    for client in (anonymous, outsider):
        await asyncio.wait_for(client.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}), 30)

    assert anonymous.payloads == [] and outsider.payloads == []
    assert [e["extensions"]["code"] for e in anonymous.errors] == ["UNAUTHENTICATED"]
    assert [e["extensions"]["code"] for e in outsider.errors] == ["NOT_FOUND"]


async def test_subscriber_whose_token_is_revoked_is_dropped_and_others_continue(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    # given an admin and a second admin user's token following the same step
    pipeline_id, go = gated_pipeline(ops, tmp_path, 40)
    start_and_wait(ops, pipeline_id)
    account = backend.admin("token", "create", "default", "admin")
    staying = Subscription(gateway_url, TRANSPORT_WS, backend.admin_token)
    leaving = Subscription(gateway_url, TRANSPORT_WS, account)
    tasks = [asyncio.create_task(c.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
             for c in (leaving, staying)]
    await wait_for_subscribers(gateway_url, 2)

    # when the second token is revoked while lines flow (re-checks run every 0.5 s here)
    backend.admin("token", "revoke", account)
    go.touch()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)

    # then the revoked subscriber got an UNAUTHENTICATED error, the other the whole log
    assert [e["extensions"]["code"] for e in leaving.errors] == ["UNAUTHENTICATED"]
    assert not leaving.completed or leaving.errors
    assert staying.errors == [] and contents(staying) == expected_log(40)


async def test_pipeline_status_streams_changes_until_success(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    pipeline_id, go = gated_pipeline(ops, tmp_path, 1)
    client = Subscription(gateway_url, LEGACY_WS, backend.admin_token,
                          stop_when=lambda data: data["pipelineStatus"]["status"] == "SUCCESS",
                          on_data=lambda data: go.touch()
                          if data["pipelineStatus"]["status"] == "RUNNING" else None)
    task = asyncio.create_task(client.run(STATUS, {"pipeline": pipeline_id}))
    await asyncio.sleep(0.5)
    ops.start(pipeline_id)
    await asyncio.wait_for(task, 60)

    statuses = [p["pipelineStatus"]["status"] for p in client.payloads]
    assert client.errors == []
    assert statuses[0] == "WAITING" and statuses[-1] == "SUCCESS" and "RUNNING" in statuses
    assert client.payloads[0]["pipelineStatus"]["runId"] is None
    assert client.payloads[-1]["pipelineStatus"]["stages"] == [{"index": 0,
                                                                "state": "SUCCESSFUL"}]


async def test_subscriber_whose_queue_overflows_is_dropped_and_resumes_from_the_offset_given(
    gateway_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    # given a gateway whose subscriber queues hold 2 events, and a step that prints 300 lines
    # at once (the follower reads them in pages far larger than 2 lines)
    settings = Settings.from_env({"SWR_BACKEND_URL": backend.url,
                                  "SWR_SUBSCRIPTION_QUEUE_SIZE": "2"})
    go = tmp_path / "go-burst"
    script = f"while [ ! -f {go} ]; do sleep 0.02; done; seq 1 300 | sed 's/^/line /'"
    created = ops.create(ops.group("sub"), {"name": "burst", "stages": [shell_stage(script)]})
    pipeline_id = created["id"]
    start_and_wait(ops, pipeline_id)
    with serve_gateway(settings) as small_queues:
        slow = Subscription(small_queues, TRANSPORT_WS, backend.admin_token)
        task = asyncio.create_task(slow.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
        await wait_for_subscribers(small_queues, 1)

        # when the lines come faster than the queue takes them
        go.touch()
        await asyncio.wait_for(task, 60)
        drops = metric(gateway_metrics(small_queues), "gateway_subscription_drops_total",
                       'reason="slow"')

    # then it got a gap-free prefix, then SUBSCRIBER_TOO_SLOW naming where to resume
    reached = len(slow.payloads)
    assert offsets(slow) == list(range(reached))
    assert [e["extensions"]["code"] for e in slow.errors] == ["SUBSCRIBER_TOO_SLOW"]
    assert slow.errors[0]["message"] == (
        f"subscriber too slow: more than 2 lines queued; resubscribe with fromOffset {reached}")
    assert drops == 1.0

    # and resubscribing from there (default queue) gets exactly the rest
    rest = Subscription(gateway_url, TRANSPORT_WS, backend.admin_token)
    await asyncio.wait_for(rest.run(STEP_LOG, {"pipeline": pipeline_id, "from": reached}), 60)
    assert rest.errors == [] and rest.completed
    assert contents(slow) + contents(rest) == expected_log(300)
    assert offsets(rest) == list(range(reached, 303))


async def test_backend_that_stays_down_ends_subscriptions_after_the_retry_period(
    tmp_path: Path
) -> None:
    # given a backend of its own and a subscriber following a running step through a gateway
    # that retries an unavailable backend for 1.5 s
    private = start_backend(tmp_path / "backend")
    ops = Ops(private.url, private.admin_token)
    pipeline_id, go = gated_pipeline(ops, tmp_path, 3)
    try:
        start_and_wait(ops, pipeline_id)
        settings = Settings(backend_url=private.url, subscription_retry_seconds=1.5)
        with serve_gateway(settings) as url:
            client = Subscription(url, LEGACY_WS, private.admin_token)
            task = asyncio.create_task(client.run(STEP_LOG, {"pipeline": pipeline_id,
                                                             "from": 0}))
            await wait_for_subscribers(url, 1)

            # when the backend goes away and stays away
            stop(private.process)
            await asyncio.wait_for(task, 60)
            drops = metric(gateway_metrics(url), "gateway_subscription_drops_total",
                           'reason="backend_unavailable"')

        # then the subscription ended with BACKEND_UNAVAILABLE instead of waiting forever
        assert contents(client) == ["stage 0 'script' (jenkins_build, run) started"]
        assert [e["extensions"]["code"] for e in client.errors] == ["BACKEND_UNAVAILABLE"]
        assert client.errors[0]["message"].startswith("backend unavailable for 1.5s: ")
        assert drops == 1.0
    finally:
        go.touch()  # lets the orphaned step script finish
        if private.process.poll() is None:
            stop(private.process)


def other_account_token(backend: BackendServer) -> str:
    name = f"acct{next(_names)}{int(time.time() * 1000) % 100000}"
    backend.admin("account", "create", name)
    backend.admin("user", "create", name, "bob")
    return backend.admin("token", "create", name, "bob")


def gateway_metrics(url: str) -> str:
    return httpx.get(f"{url}/metrics").text


def feed_reads(url: str) -> int:
    value = metric(gateway_metrics(url), "gateway_subscription_feed_reads_total", 'kind="log"')
    return int(value or 0)


def backend_log_requests(backend: BackendServer) -> int:
    text = httpx.get(f"{backend.url}/metrics").text
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
        if line.startswith("swrlocal_http_requests_total{") and f'route="{LOG_ROUTE}"' in line
        and 'method="GET"' in line
    )
