"""Benchmark: the nested organizations -> repositories -> tags query, gateway vs Hive Gateway.

Starts `swr-local serve` on a temporary data dir (CPU 0), seeds 20 organizations x 10
repositories x 5 tags through the real APIs, then for each round and target starts the target
pinned to CPU 1, checks its answer, counts its backend calls per query, and load-tests it with
wrk (pinned to CPU 0, beside the backend) at each concurrency. Targets:

- `loaders`: `swr-gateway serve` as shipped (per-request dataloaders), `edges { node }` shape;
- `nodes`: the same gateway and data, read through the connections' `nodes` shortcut;
- `naive`: the same with `SWR_DATALOADERS=off` (one backend call per parent, no dedupe);
- `direct`: bench/direct_calls.py, the same backend calls with no GraphQL (the floor);
- `hive`: Hive Gateway over GraphQL Mesh's composition of the backend's `/openapi.json`.

Raw rows go to bench/results/<date>.jsonl, the summary table to docs/benchmarks.md.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import hive  # noqa: E402
from bench.procs import Processes, Service, cpu_seconds, wait_http, wait_idle  # noqa: E402
from bench.seed import Shape, seed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
GATEWAY_CPU, BACKEND_CPU = 1, 0
BACKEND_PORT, GATEWAY_PORT, HIVE_PORT = 18080, 18000, 14000
TARGETS = ("loaders", "nodes", "naive", "direct", "hive")

_TAGS = "tags(first: 100) { edges { node { name digest } } }"
_REPOS = f"repositories(first: 100) {{ edges {{ node {{ name {_TAGS} }} }} }}"
OURS = f"organizations(first: 100) {{ edges {{ node {{ name {_REPOS} }} }} }}"
# The same connections read through their `nodes` shortcut (no edge objects, no cursors).
OURS_NODES = ("organizations(first: 100) { nodes { name repositories(first: 100) { nodes { name"
              " tags(first: 100) { nodes { name digest } } } } } }")
_HIVE_TAGS = "TagsOfRepository { ... on ShowReposTagResp { Tag digest } }"
_HIVE_REPOS = f"repos {{ ... on ShowReposResp {{ name {_HIVE_TAGS} }} }}"
HIVE = (f"ListNamespaces {{ ... on ListNamespacesResponse {{ namespaces {{ name {_HIVE_REPOS} }}"
        " } }")


def query_text(target: str, aliased: bool) -> str:
    """The nested query; `aliased` asks for the same tree twice (`a:` and `b:`)."""
    field = {"hive": HIVE, "nodes": OURS_NODES}.get(target, OURS)
    return f"{{ a: {field} b: {field} }}" if aliased else f"{{ {field} }}"


@dataclass
class Stack:
    procs: Processes
    work: Path
    token: str
    backend: Service
    hive_dir: Path

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{BACKEND_PORT}"


def http_json(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def backend_calls(stack: Stack) -> int:
    """Manage API requests served so far, from the backend's own Prometheus counter."""
    text = http_json(stack.backend_url + "/metrics").decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("swrlocal_http_requests_total{") and 'route="/v2/manage' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def start_backend(procs: Processes, work: Path, token: str) -> Service:
    env = {"SWR_ADMIN_TOKEN": token, "SWR_DATA_DIR": str(work / "data")}
    argv = [str(VENV_BIN / "swr-local"), "serve", "--port", str(BACKEND_PORT)]
    service = procs.start("backend", BACKEND_CPU, argv, env)
    wait_http(f"http://127.0.0.1:{BACKEND_PORT}/", service)
    return service


def start_target(stack: Stack, target: str) -> tuple[Service | None, str]:
    """Start a gateway on CPU 1; returns (service, GraphQL URL). `direct` has no server."""
    if target == "direct":
        return None, ""
    if target == "hive":
        service = hive.start(stack.procs, stack.hive_dir, GATEWAY_CPU, HIVE_PORT)
        url = f"http://127.0.0.1:{HIVE_PORT}/graphql"
    else:
        env = {"SWR_DATALOADERS": "off" if target == "naive" else "on",
               "SWR_DATA_DIR": str(stack.work / "gateway"), "SWR_GRAPHIQL": "0"}
        argv = [str(VENV_BIN / "swr-gateway"), "serve", "--port", str(GATEWAY_PORT),
                "--backend-url", stack.backend_url]
        service = stack.procs.start(f"gateway-{target}", GATEWAY_CPU, argv, env)
        url = f"http://127.0.0.1:{GATEWAY_PORT}/graphql"
    wait_http(url.replace("/graphql", "/healthz" if target != "hive" else "/healthcheck"),
              service)
    return service, url


def check_answer(url: str, target: str, token: str, aliased: bool = False) -> int:
    """POST the query once; refuse errors or a wrong tag count. Returns the body size."""
    body = http_json(url, {"query": query_text(target, aliased)}, token)
    text = body.decode()
    tags = text.count('"digest"')
    expected = 1000 * (2 if aliased else 1)
    if '"errors"' in text or tags != expected:
        raise RuntimeError(f"{target}: {tags} tags (want {expected}): {text[:300]}")
    return len(body)


def calls_per_query(stack: Stack, url: str, target: str, aliased: bool, n: int = 5) -> float:
    time.sleep(0.3)
    before = backend_calls(stack)
    for _ in range(n):
        http_json(url, {"query": query_text(target, aliased)}, stack.token)
    return (backend_calls(stack) - before) / n


def run_wrk(url: str, body_file: Path, size: int, token: str, conc: int, seconds: float
            ) -> dict[str, Any]:
    argv = ["taskset", "-c", str(BACKEND_CPU), "wrk", "-t1", f"-c{conc}", f"-d{seconds:g}s",
            "--timeout", "60s", "-s", str(BENCH / "graphql.lua"), url, "--",
            str(body_file), str(size), token]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / result["duration_s"]
    return result


def run_direct(stack: Stack, conc: int, seconds: float, warmup: float) -> dict[str, Any]:
    argv = ["taskset", "-c", str(GATEWAY_CPU), sys.executable, str(BENCH / "direct_calls.py"),
            "--backend", stack.backend_url, "--token", stack.token, "--concurrency", str(conc),
            "--duration", str(seconds), "--warmup", str(warmup)]
    be0 = cpu_seconds(stack.backend.pid)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    wall = result["duration_s"] + warmup
    result.update(rps=result["requests"] / result["duration_s"], failed=0, socket_errors=0,
                  gw_cpu_ms_per_query=result["cpu_ms_per_query"],
                  be_cpu_util=(cpu_seconds(stack.backend.pid) - be0) / wall)
    return result


def measure(stack: Stack, target: str, service: Service | None, url: str, conc: int,
            args: argparse.Namespace, body_file: Path, size: int) -> dict[str, Any]:
    if service is None:
        return run_direct(stack, conc, args.duration, args.warmup)
    if args.warmup:
        run_wrk(url, body_file, size, stack.token, conc, args.warmup)
    drained = wait_idle(service.pid)
    calls0, gw0, be0 = backend_calls(stack), cpu_seconds(service.pid), cpu_seconds(
        stack.backend.pid)
    result = run_wrk(url, body_file, size, stack.token, conc, args.duration)
    gw, be = cpu_seconds(service.pid) - gw0, cpu_seconds(stack.backend.pid) - be0
    calls = backend_calls(stack) - calls0
    wall, done = result["duration_s"], max(result["requests"], 1)
    result.update(
        gw_cpu_ms_per_query=1000 * gw / done, gw_cpu_util=gw / wall, be_cpu_util=be / wall,
        backend_calls_during_run=calls, drained_before_s=round(drained, 2),
        drained_after_s=round(wait_idle(service.pid), 2),
    )
    return result


def target_block(stack: Stack, target: str, round_no: int, args: argparse.Namespace,
                 out: Any) -> list[dict[str, Any]]:
    service, url = start_target(stack, target)
    rows: list[dict[str, Any]] = []
    try:
        calls: dict[str, float] = {}
        size = 0
        if service is not None:
            size = check_answer(url, target, stack.token)
            check_answer(url, target, stack.token, aliased=True)
            calls = {"nested": calls_per_query(stack, url, target, False),
                     "aliased": calls_per_query(stack, url, target, True)}
        body_file = stack.work / f"{target}.json"
        body_file.write_text(json.dumps({"query": query_text(target, False)}))
        concs = args.conc if round_no % 2 else list(reversed(args.conc))
        for conc in concs:
            result = measure(stack, target, service, url, conc, args, body_file, size)
            if target == "direct":
                calls = {"nested": result.pop("calls_per_query")}
            row = {"round": round_no, "target": target, "conc": conc,
                   "calls_per_query": calls, "body_bytes": size, **result}
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"r{round_no} {target:8s} c={conc:<3d} {row['rps']:7.2f} q/s "
                  f"p50 {row['p50_ms']:8.1f} ms p99 {row['p99_ms']:8.1f} ms "
                  f"cpu/q {row['gw_cpu_ms_per_query']:6.1f} ms be {row['be_cpu_util']:.2f} "
                  f"calls {calls}", flush=True)
    finally:
        if service is not None:
            stack.procs.stop(service)
    return rows


def median_table(rows: list[dict[str, Any]], targets: list[str], concs: list[int]) -> str:
    head = ("| target | conc | q/s | p50 ms | p99 ms | gateway CPU ms/query | backend CPU "
            "| calls/query | calls, aliased subtree | q/s vs Hive | runs |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    med: dict[tuple[str, int], dict[str, float]] = {}
    for t in targets:
        for c in concs:
            rs = [r for r in rows if r["target"] == t and r["conc"] == c]
            if rs:
                med[t, c] = {k: statistics.median(r[k] for r in rs) for k in
                             ("rps", "p50_ms", "p99_ms", "gw_cpu_ms_per_query", "be_cpu_util")}
                med[t, c]["n"] = len(rs)
    for t in targets:
        for c in concs:
            if (t, c) not in med:
                continue
            m, calls = med[t, c], next(r for r in rows if r["target"] == t)["calls_per_query"]
            hive_rps = med.get(("hive", c), {}).get("rps")
            ratio = f"{m['rps'] / hive_rps:.2f}x" if hive_rps else "-"
            aliased = calls.get("aliased")
            lines.append(
                f"| {t} | {c} | {m['rps']:.1f} | {m['p50_ms']:.0f} | {m['p99_ms']:.0f} | "
                f"{m['gw_cpu_ms_per_query']:.1f} | {m['be_cpu_util']:.2f} | "
                f"{calls.get('nested', 0):.0f} | {'-' if aliased is None else f'{aliased:.0f}'} "
                f"| {ratio} | {int(m['n'])} |")
    spread = [f"- {t} c={c}: " + ", ".join(
        f"{r['rps']:.1f}" for r in rows if r["target"] == t and r["conc"] == c)
        for t in targets for c in concs if (t, c) in med]
    return "\n".join(lines) + "\n\nPer-run q/s:\n\n" + "\n".join(spread) + "\n"


def write_docs(table: str, meta: dict[str, Any], path: Path) -> None:
    """Replace the generated block of docs/benchmarks.md (between the markers)."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    block = (f"{start}\nRun {meta['date']} ({meta['rounds']} rounds, {meta['duration']} s per "
             f"run, raw rows in `{meta['results']}`):\n\n{table}{end}")
    path.write_text(before + block + after)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--conc", default="1,16")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--hive-dir", type=Path, default=Path(tempfile.gettempdir()) /
                        "swr-bench-hive", help="npm project for Hive (outside the repo)")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    args.targets = [t for t in args.targets.split(",") if t]
    args.conc = [int(c) for c in args.conc.split(",")]
    return args


def main() -> int:
    args = parse_args()
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    results = args.results or BENCH / "results" / f"{date}.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="swr-bench-"))
    procs, token = Processes(work), "bench-" + secrets.token_hex(16)
    rows: list[dict[str, Any]] = []
    try:
        backend = start_backend(procs, work, token)
        stack = Stack(procs, work, token, backend, args.hive_dir)
        print(f"seeded {seed(stack.backend_url, token, Shape())} tags", flush=True)
        if "hive" in args.targets:
            hive.prepare(args.hive_dir, BENCH / "hive", stack.backend_url)
        with open(results, "a") as out:
            for round_no in range(1, args.rounds + 1):
                shift = (round_no - 1) % len(args.targets)
                for target in args.targets[shift:] + args.targets[:shift]:
                    rows += target_block(stack, target, round_no, args, out)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    table = median_table(rows, args.targets, args.conc)
    print(table)
    if not args.no_docs:
        meta = {"date": date, "rounds": args.rounds, "duration": args.duration,
                "results": results.relative_to(ROOT) if results.is_relative_to(ROOT) else results}
        write_docs(table, meta, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
