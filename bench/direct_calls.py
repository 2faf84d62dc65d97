"""The floor: the nested query's backend calls made directly, with no GraphQL in between.

One "query" is `GET /v2/manage/namespaces`, then each organization's repository list, then each
repository's tag list, with the same fan-out, connection pool (aiohttp, 100 connections),
per-query bound (64 calls at once) and JSON decoding as the gateway. `concurrency` closed-loop
workers run for `duration` seconds; one JSON line with the figures goes to stdout.

    taskset -c 1 python bench/direct_calls.py --backend http://127.0.0.1:18080 --token T \
        --concurrency 16 --duration 12
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp

POOL = 100
PER_QUERY = 64


class Floor:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.headers = {"X-Auth-Token": token, "Accept": "application/json"}
        self.calls = 0

    async def get(self, bound: asyncio.Semaphore, path: str) -> Any:
        async with bound, self.session.get(self.base + path, headers=self.headers) as response:
            self.calls += 1
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
            return json.loads(body)

    async def repository(self, bound: asyncio.Semaphore, ns: str, repo: dict[str, Any]) -> int:
        path = f"/v2/manage/namespaces/{ns}/repos/{repo['name']}/tags?offset=0&limit=100"
        return len(await self.get(bound, path))

    async def organization(self, bound: asyncio.Semaphore, ns: str) -> int:
        repos = await self.get(bound, f"/v2/manage/repos?namespace={ns}&offset=0&limit=100")
        counts = await asyncio.gather(*(self.repository(bound, ns, r) for r in repos))
        return sum(counts)

    async def query(self) -> int:
        """One nested query's worth of calls; returns the number of tags seen."""
        bound = asyncio.Semaphore(PER_QUERY)
        listing = await self.get(bound, "/v2/manage/namespaces")
        names = [item["name"] for item in listing["namespaces"]]
        counts = await asyncio.gather(*(self.organization(bound, ns) for ns in names))
        return sum(counts)


async def closed_loop(floor: Floor, concurrency: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await floor.query()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=POOL, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector) as session:
        floor = Floor(session, args.backend.rstrip("/"), args.token)
        tags = await floor.query()
        if args.warmup:
            await closed_loop(floor, args.concurrency, args.warmup)
        floor.calls = 0
        cpu, wall = time.process_time(), time.perf_counter()
        latencies = await closed_loop(floor, args.concurrency, args.duration)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = max(len(latencies), 1)
    return {
        "requests": len(latencies), "duration_s": wall, "tags_per_query": tags,
        "p50_ms": 1000 * percentile(latencies, 0.50), "p99_ms": 1000 * percentile(latencies, 0.99),
        "mean_ms": 1000 * statistics.fmean(latencies) if latencies else 0.0,
        "cpu_ms_per_query": 1000 * cpu / done, "calls_per_query": floor.calls / done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    try:
        import uvloop  # the gateway runs on uvloop too (uvicorn[standard])

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
