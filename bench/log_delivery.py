"""Live step-log delivery through the gateway's `stepLog` subscription (not a test).

For each subscriber count (default 1, 100, 1000) it starts a fresh `swr-gateway serve` (pinned to
CPU 1) in front of one `swr-local serve` (CPU 0), attaches that many `graphql-transport-ws`
clients (this process, asyncio) to one running step, releases the step, which prints `--lines`
lines `t=<epoch seconds> i=<n>` every `--interval` seconds, and measures:

- latency: arrival time at the client minus the `t=` the script wrote (p50, p99, max over every
  line of every subscriber); the clock is the same machine's;
- backend log requests per second while the step printed (all of them, and the follower's own);
- gateway peak RSS (`VmHWM` of the gateway process, started fresh per level).

Bounded: every run has a deadline; only 127.0.0.1; stops the processes it started, by PID.

    /work/venv/bin/python bench/log_delivery.py                  # 1, 100, 1000 subscribers
    /work/venv/bin/python bench/log_delivery.py --subscribers 1,50 --lines 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.procs import Processes, wait_http  # noqa: E402
from tests.conftest import free_port  # noqa: E402

LOG_ROUTE = "/v3/manage/pipelines/{pipeline_id}/stages/{stage_index}/jobs/{job_id}/logs"
QUERY = """subscription($p: String!) {
  stepLog(pipelineId: $p, stageIndex: 0) { offset content final }
}"""
PY = sys.executable


def start_backend(procs: Processes, data: Path) -> tuple[str, str]:
    port = free_port()
    service = procs.start("backend", 0, [PY, "-m", "swrlocal", "serve", "--host", "127.0.0.1",
                                         "--port", str(port), "--data-dir", str(data)], {})
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/", service)
    return url, (data / "admin-token").read_text().strip()


def start_gateway(procs: Processes, backend: str) -> tuple[str, int]:
    port = free_port()
    service = procs.start("gateway", 1, [PY, "-m", "gateway", "serve", "--host", "127.0.0.1",
                                         "--port", str(port), "--backend-url", backend], {})
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", service)
    return url, service.pid


def make_pipeline(api: httpx.Client, go: Path, lines: int, interval: float) -> str:
    script = (f"while [ ! -f {go} ]; do sleep 0.01; done; for i in $(seq 1 {lines}); do"
              f' echo "t=$(date +%s.%N) i=$i"; sleep {interval}; done')
    group = f"bench{int(time.time() * 1000)}"
    assert api.post("/v3/manage/pipelinegroups", json={"group": group}).status_code == 201
    body = {"name": "logs", "stages": [{"name": "print", "service_name": "jenkins_build",
            "params": {"basic_env": "SelfPkgBuild", "jenkins_shell": script}}]}
    answer = api.post(f"/v3/manage/pipelinegroups/{group}/pipelines", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def log_requests(backend: str) -> int:
    text = httpx.get(f"{backend}/metrics", timeout=120).text
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("swrlocal_http_requests_total{") and LOG_ROUTE in line)


def metric(url: str, prefix: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=120).text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def subscriber(url: str, token: str, pipeline: str, ready: asyncio.Event,
                     latencies: list[float]) -> int:
    """Follow the log; record each `t=` line's delay; return the number of lines."""
    got = 0
    ws_url = url.replace("http://", "ws://") + "/graphql"
    protocols = ["graphql-transport-ws"]
    async with websockets.connect(
        ws_url, subprotocols=protocols, max_queue=None, open_timeout=60  # type: ignore[arg-type]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": QUERY, "variables": {"p": pipeline}}}))
        ready.set()
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            if message["type"] != "next":
                break
            event = message["payload"]["data"]["stepLog"]
            got += 1
            content = event["content"] or ""
            if content.startswith("t="):
                latencies.append(now - float(content.split()[0][2:]))
    return got


async def one_level(procs: Processes, backend: str, token: str, count: int, args: Any
                    ) -> dict[str, Any]:
    gateway, pid = start_gateway(procs, backend)
    api = httpx.Client(base_url=backend, headers={"X-Auth-Token": token,
                                                  "Accept": "application/json"}, timeout=30)
    go = Path(tempfile.mkdtemp()) / "go"
    pipeline = make_pipeline(api, go, args.lines, args.interval)
    started = api.post(f"/v3/manage/pipelines/{pipeline}/start", json={})  # noqa: ASYNC212
    assert started.status_code == 201, started.text
    latencies: list[float] = []
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(subscriber(gateway, token, pipeline, r, latencies))
             for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    attached, deadline = 'gateway_subscription_subscribers{kind="log"}', time.monotonic() + 120
    while (now := await asyncio.to_thread(metric, gateway, attached)) < count:  # noqa: ASYNC110
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {now:g} of {count} subscribers attached within 120 s")
        await asyncio.sleep(0.2)  # every subscriber has joined and attached (a metric poll)
    before, reads_before, started = log_requests(backend), metric(
        gateway, 'gateway_subscription_feed_reads_total{kind="log"}'), time.monotonic()
    go.touch()
    counts = await asyncio.wait_for(asyncio.gather(*tasks), args.lines * args.interval + 120)
    elapsed = time.monotonic() - started
    reads = metric(gateway, 'gateway_subscription_feed_reads_total{kind="log"}') - reads_before
    hwm = vm_hwm_kib(pid)
    procs.stop(procs.services[-1])
    latencies.sort()
    return {
        "subscribers": count, "lines": args.lines, "interval_s": args.interval,
        "complete": all(c == counts[0] for c in counts), "lines_per_subscriber": counts[0],
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
        "max_ms": round(1000 * latencies[-1], 1),
        "backend_log_requests_per_s": round((log_requests(backend) - before) / elapsed, 1),
        "follower_reads_per_s": round(reads / elapsed, 1),
        "gateway_vmhwm_mib": round(hwm / 1024, 1), "elapsed_s": round(elapsed, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", default="1,100,1000")
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swr-logbench-"))
    procs = Processes(work)
    try:
        backend, token = start_backend(procs, work / "data")
        for count in (int(x) for x in args.subscribers.split(",")):
            print(json.dumps(await one_level(procs, backend, token, count, args)), flush=True)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    asyncio.run(main())
