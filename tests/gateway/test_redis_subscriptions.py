"""Live step logs across two gateway replicas sharing one Redis (`SWR_REDIS_URL`).

Each test module run starts a private `redis-server` on a free port (installed from Debian's
packages where missing), so the tests never share the machine's Redis. Both replicas are
uvicorn servers in threads, pointed at the same real backend and the same Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from gateway.settings import Settings
from tests.backend.test_containerops import Ops, shell_stage
from tests.conftest import BackendServer, debian_tool, free_port, start_backend, stop
from tests.gateway.test_subscriptions import (
    STEP_LOG,
    backend_log_requests,
    contents,
    expected_log,
    feed_reads,
    gated_pipeline,
    offsets,
    start_and_wait,
    wait_for_subscribers,
)
from tests.gateway.test_subscriptions_support import (
    LEGACY_WS,
    TRANSPORT_WS,
    RunningGateway,
    Subscription,
    metric,
)


def redis_server_binary() -> str:
    return debian_tool("redis-server", "redis-server")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private, memory-only Redis on a free loopback port for this module."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert process.poll() is None, "redis-server exited"
            time.sleep(0.025)
        client.close()
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def ops(backend: BackendServer) -> Ops:
    return Ops(backend.url, backend.admin_token)


def replica(backend_url: str, redis_url: str, **extra: float) -> RunningGateway:
    settings = Settings(
        backend_url=backend_url, redis_url=redis_url, **extra  # type: ignore[arg-type]
    )
    gateway = RunningGateway(settings)
    gateway.start()
    return gateway


@contextlib.contextmanager
def replicas(backend_url: str, redis_url: str, count: int = 2, **extra: float
             ) -> Iterator[list[RunningGateway]]:
    started: list[RunningGateway] = []
    try:
        for _ in range(count):
            started.append(replica(backend_url, redis_url, **extra))
        yield started
    finally:
        for gateway in started:
            if gateway.thread.is_alive():
                gateway.stop()


def gauge(gateway: RunningGateway, name: str) -> float:
    text = httpx.get(f"{gateway.url}/metrics").text
    return metric(text, name, 'kind="log"') or 0.0


def reads_of(gateway: RunningGateway) -> int:
    """Backend log reads made by this replica's leader (readable after the replica stopped)."""
    registry = gateway.app.state.metrics.registry
    value = registry.get_sample_value("gateway_subscription_feed_reads_total", {"kind": "log"})
    return int(value or 0)


async def wait_for(condition: object, what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.025)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{what} did not happen within {seconds}s")


def two_gate_pipeline(ops: Ops, tmp_path: Path, first: int, second: int
                      ) -> tuple[str, Path, Path]:
    """A step printing `first` lines once `go1` exists, then `second` more once `go2` exists."""
    go1, go2 = tmp_path / "go1", tmp_path / "go2"
    script = (f"while [ ! -f {go1} ]; do sleep 0.02; done;"
              f' for i in $(seq 1 {first}); do echo "line $i"; sleep 0.02; done;'
              f" while [ ! -f {go2} ]; do sleep 0.02; done;"
              f' for i in $(seq {first + 1} {first + second}); do echo "line $i"; sleep 0.02;'
              " done")
    created = ops.create(ops.group("relay"), {"name": "relay", "stages": [shell_stage(script)]})
    return created["id"], go1, go2


async def test_two_replicas_share_one_backend_reader_and_get_identical_logs(
    redis_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    with replicas(backend.url, redis_url) as (one, two):
        # given three subscribers on each replica, following one running step
        pipeline_id, go = gated_pipeline(ops, tmp_path, 30)
        start_and_wait(ops, pipeline_id)
        before = backend_log_requests(backend)
        clients = [Subscription(gw.url, (TRANSPORT_WS, LEGACY_WS)[i % 2], backend.admin_token)
                   for i, gw in enumerate([one, two] * 3)]
        tasks = [asyncio.create_task(c.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
                 for c in clients]
        for gw in (one, two):
            await wait_for_subscribers(gw.url, 3)
        await wait_for(lambda: gauge(one, "gateway_subscription_leases")
                       + gauge(two, "gateway_subscription_leases") == 1, "a lease")

        # when the step prints its 30 lines
        go.touch()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)

        # then every subscriber on both replicas has the same complete log, in order
        assert all(c.errors == [] and c.completed for c in clients)
        assert {tuple(contents(c)) for c in clients} == {tuple(expected_log(30))}
        assert {tuple(offsets(c)) for c in clients} == {tuple(range(33))}

        # and the backend served the six join reads plus the reads of ONE replica's leader
        reads = [feed_reads(one.url), feed_reads(two.url)]
        assert sorted(reads)[0] == 0 and 1 <= sorted(reads)[1] <= 33
        assert backend_log_requests(backend) - before == 6 + sum(reads)


async def test_when_the_lease_holder_stops_the_other_replica_takes_over_without_loss(
    redis_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    with replicas(backend.url, redis_url, subscription_lease_seconds=2.0) as (holder, other):
        # given a subscriber on each replica, the first replica holding the job's lease
        pipeline_id, go1, go2 = two_gate_pipeline(ops, tmp_path, 10, 15)
        start_and_wait(ops, pipeline_id)
        before = backend_log_requests(backend)
        first = Subscription(holder.url, TRANSPORT_WS, backend.admin_token)
        first_task = asyncio.create_task(first.run(STEP_LOG, {"pipeline": pipeline_id,
                                                              "from": 0}))
        await wait_for_subscribers(holder.url, 1)
        await wait_for(lambda: gauge(holder, "gateway_subscription_leases") == 1, "the lease")
        seen = asyncio.Event()
        survivor = Subscription(other.url, LEGACY_WS, backend.admin_token,
                                on_data=lambda d: seen.set()
                                if d["stepLog"]["offset"] == 10 else None)
        task = asyncio.create_task(survivor.run(STEP_LOG, {"pipeline": pipeline_id,
                                                           "from": 0}))
        await wait_for_subscribers(other.url, 1)

        # when the first 10 lines went through the holder, the holder stops, then 15 more come
        go1.touch()
        await asyncio.wait_for(seen.wait(), 60)
        await asyncio.to_thread(holder.stop)
        await asyncio.gather(first_task, return_exceptions=True)
        go2.touch()
        await asyncio.wait_for(task, 120)

        # then the other replica delivered every line once, in order, to the end
        assert survivor.errors == [] and survivor.completed
        assert contents(survivor) == expected_log(25)
        assert offsets(survivor) == list(range(28))

        # and took over the job's backend reads: each replica led for its part of the log
        taken_over = reads_of(other)
        assert reads_of(holder) >= 1 and taken_over >= 1
        # (the holder's read in flight when it stopped may have been cut before reaching the
        # backend: the backend then counts one read fewer than the holder started)
        led = reads_of(holder) + taken_over
        await wait_for(lambda: backend_log_requests(backend) - before in (2 + led - 1, 2 + led),
                       "the backend's count to settle", 15)


async def test_a_stale_lease_of_a_dead_replica_expires_and_a_live_one_leads(
    redis_url: str, ops: Ops, backend: BackendServer, tmp_path: Path
) -> None:
    # given a running step whose lease a replica that died without releasing it still holds
    pipeline_id, go = gated_pipeline(ops, tmp_path, 8)
    start_and_wait(ops, pipeline_id)
    job_id = ops.jobs(pipeline_id, 0)[0]["id"]
    lease = f"swr-gateway:log:{pipeline_id}:0:{job_id}:lease"
    with redis.Redis.from_url(redis_url) as client:
        assert client.set(lease, "dead-replica", nx=True, px=1500)

    # when a subscriber follows the step on a live replica
    with replicas(backend.url, redis_url, count=1, subscription_lease_seconds=1.5) as (live,):
        client_ws = Subscription(live.url, TRANSPORT_WS, backend.admin_token)
        task = asyncio.create_task(client_ws.run(STEP_LOG, {"pipeline": pipeline_id,
                                                            "from": 0}))
        await wait_for_subscribers(live.url, 1)
        go.touch()
        await asyncio.wait_for(task, 60)

    # then the live replica led once the dead one's lease expired, and nothing was lost
    assert client_ws.errors == [] and client_ws.completed
    assert contents(client_ws) == expected_log(8)
    assert reads_of(live) >= 1


async def test_backend_down_ends_subscriptions_on_every_replica_after_the_retry_period(
    redis_url: str, tmp_path: Path
) -> None:
    # given a backend of its own, and a subscriber on each of two replicas following a step
    private = start_backend(tmp_path / "backend")
    go = tmp_path / "never"
    try:
        ops = Ops(private.url, private.admin_token)
        pipeline_id, go = gated_pipeline(ops, tmp_path, 3)
        start_and_wait(ops, pipeline_id)
        with replicas(private.url, redis_url, subscription_retry_seconds=1.5) as (one, two):
            clients = [Subscription(gw.url, TRANSPORT_WS, private.admin_token)
                       for gw in (one, two)]
            tasks = [asyncio.create_task(c.run(STEP_LOG, {"pipeline": pipeline_id, "from": 0}))
                     for c in clients]
            for gw in (one, two):
                await wait_for_subscribers(gw.url, 1)

            # when the backend goes away and stays away
            stop(private.process)
            await asyncio.wait_for(asyncio.gather(*tasks), 60)

        # then both subscriptions end with BACKEND_UNAVAILABLE (the leader's, through Redis)
        for client in clients:
            assert [e["extensions"]["code"] for e in client.errors] == ["BACKEND_UNAVAILABLE"]
            assert "backend unavailable for 1.5s" in client.errors[0]["message"]
            assert contents(client) == ["stage 0 'script' (jenkins_build, run) started"]
    finally:
        go.touch()  # lets the orphaned step script finish
        if private.process.poll() is None:
            stop(private.process)
