"""Benchmark: one big package file, downloaded straight from the backend and through the gateway.

Starts `swr-local serve` (CPU 0) and `swr-gateway serve --backend-url` (CPU 1) on free ports and
a temporary data dir, creates an organization, writes a deterministic pseudo-random file in
chunks and pushes it as a package with oras-py (registry token flow, chunked upload). Then:
one full download through the gateway hashed with SHA-256 (the correctness check, and the
warm-up), `--runs` timed full downloads from each of the backend's download endpoint and the
gateway's download route (interleaved; the client, pinned to CPU 0 beside the backend, reads
into one buffer and discards), and one ranged download of the last 100 MiB through the gateway.

Raw rows go to bench/results/download-<date>.jsonl, the table to the "Package download" section
of docs/benchmarks.md. Every process is stopped by its PID; the data dir and the file are
deleted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import oras.client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procs import Processes, Service, cpu_seconds, wait_http, wait_idle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
GATEWAY_CPU, BACKEND_CPU = 1, 0
MIB = 2**20
ORG, PACKAGE, VERSION, FOLDER, FILENAME = "bench-dl", "blob", "1", "data", "big.bin"
TITLE = "org.opencontainers.image.title"
READ_SIZE = MIB  # the client's read size: one reused buffer
DOCS_START, DOCS_END = "<!-- download:start -->", "<!-- download:end -->"
HEADING = "## Package download"
DATE = datetime.now(UTC).strftime("%Y-%m-%d")


@dataclass
class Stack:
    procs: Processes
    work: Path
    token: str
    backend: Service
    backend_port: int
    gateway: Service
    gateway_port: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int, key: str) -> int:
    """A `/proc/<pid>/status` memory field (VmHWM, VmRSS) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} for pid {pid}")


def write_file(path: Path, size: int, seed: int = 20261204) -> str:
    """Deterministic pseudo-random bytes, written 8 MiB at a time; returns the SHA-256 hex."""
    rng, digest, left = random.Random(seed), hashlib.sha256(), size
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        while left:
            chunk = rng.randbytes(min(8 * MIB, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def request(port: int, method: str, path: str, token: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    all_headers = {"X-Auth-Token": token, **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=all_headers)
    return conn.getresponse()


def create_org(port: int, token: str) -> None:
    body = json.dumps({"namespace": ORG}).encode()
    response = request(port, "POST", "/v2/manage/namespaces", token, body)
    if response.status != 201:
        raise RuntimeError(f"create organization: {response.status} {response.read()[:200]!r}")


def push(stack: Stack, root: Path, chunk: int) -> float:
    """oras-py push of `root/data/big.bin`, chunked; returns the seconds it took."""
    rel = f"{FOLDER}/{FILENAME}"
    (root / "annotations.json").write_text(json.dumps({rel: {TITLE: rel}}))
    host = f"127.0.0.1:{stack.backend_port}"
    client = oras.client.OrasClient(hostname=host, insecure=True)
    client.login("bench", stack.token, hostname=host,
                 config_path=str(stack.work / "docker-config.json"))
    cwd, started = os.getcwd(), time.monotonic()
    os.chdir(root)  # oras-py pushes only paths below the working directory
    try:
        client.push(files=[rel], target=f"{host}/{ORG}/{PACKAGE}:{VERSION}",
                    annotation_file="annotations.json", do_chunked=True, chunk_size=chunk,
                    quiet=True)
    finally:
        os.chdir(cwd)
    return time.monotonic() - started


def backend_path() -> str:
    return (f"/v2/manage/namespaces/{ORG}/packages/{PACKAGE}/versions/{VERSION}/file_paths/"
            f"${FOLDER}/{FILENAME}")


def gateway_path() -> str:
    return f"/download/packages/{ORG}/{PACKAGE}/{VERSION}/{FOLDER}/{FILENAME}"


def fetch(port: int, path: str, token: str, range_from: int | None = None,
          hasher: Any = None) -> dict[str, Any]:
    """One GET read to the end into a reused buffer; status, bytes, seconds, client CPU."""
    headers = {"Range": f"bytes={range_from}-"} if range_from is not None else {}
    buffer = bytearray(READ_SIZE)
    view = memoryview(buffer)
    cpu0, started = time.process_time(), time.monotonic()
    response = request(port, "GET", path, token, headers=headers)
    received = 0
    while n := response.readinto(buffer):
        received += n
        if hasher is not None:
            hasher.update(view[:n])
    seconds = time.monotonic() - started
    return {"status": response.status, "bytes": received, "seconds": seconds,
            "client_cpu_s": time.process_time() - cpu0,
            "content_length": int(response.headers.get("content-length", -1)),
            "content_range": response.headers.get("content-range"),
            "etag": response.headers.get("etag")}


def measured(stack: Stack, target: str, range_from: int | None = None) -> dict[str, Any]:
    """A timed download with the gateway's and the backend's CPU and the gateway's memory."""
    port, path = ((stack.backend_port, backend_path()) if target == "direct"
                  else (stack.gateway_port, gateway_path()))
    wait_idle(stack.gateway.pid)
    wait_idle(stack.backend.pid)
    gw_pid, be_pid = stack.gateway.pid, stack.backend.pid
    hwm0, gw0, be0 = proc_status(gw_pid, "VmHWM"), cpu_seconds(gw_pid), cpu_seconds(be_pid)
    row = fetch(port, path, stack.token, range_from)
    gw_cpu, be_cpu = cpu_seconds(gw_pid) - gw0, cpu_seconds(be_pid) - be0
    gib = row["bytes"] / 2**30
    row.update(target=target, mib_s=row["bytes"] / MIB / row["seconds"],
               gw_cpu_s=gw_cpu, be_cpu_s=be_cpu, gw_cpu_s_per_gib=gw_cpu / gib,
               be_cpu_s_per_gib=be_cpu / gib, gw_hwm_before=hwm0,
               gw_hwm_after=proc_status(gw_pid, "VmHWM"),
               gw_rss_after=proc_status(gw_pid, "VmRSS"))
    return row


def check_bytes(stack: Stack, size: int, sha256: str) -> dict[str, Any]:
    """A full download through the gateway, hashed: the bytes, the length and the ETag."""
    hasher = hashlib.sha256()
    row = fetch(stack.gateway_port, gateway_path(), stack.token, hasher=hasher)
    ok = (row["status"] == 200 and row["bytes"] == size and hasher.hexdigest() == sha256
          and row["etag"] == f'"sha256:{sha256}"')
    row.update(kind="check", target="gateway", sha256=hasher.hexdigest(), expected=sha256,
               ok=ok)
    if not ok:
        raise RuntimeError(f"gateway download differs from the file: {row}")
    return row


def start_services(procs: Processes, work: Path, token: str) -> Stack:
    be_port, gw_port = free_port(), free_port()
    backend = procs.start("backend", BACKEND_CPU, [
        str(VENV_BIN / "swr-local"), "serve", "--host", "127.0.0.1", "--port", str(be_port)],
        {"SWR_ADMIN_TOKEN": token, "SWR_DATA_DIR": str(work / "data")})
    wait_http(f"http://127.0.0.1:{be_port}/", backend)
    gateway = procs.start("gateway", GATEWAY_CPU, [
        str(VENV_BIN / "swr-gateway"), "serve", "--host", "127.0.0.1", "--port", str(gw_port),
        "--backend-url", f"http://127.0.0.1:{be_port}"],
        {"SWR_DATA_DIR": str(work / "gateway"), "SWR_GRAPHIQL": "0"})
    wait_http(f"http://127.0.0.1:{gw_port}/healthz", gateway)
    return Stack(procs, work, token, backend, be_port, gateway, gw_port)


def run(args: argparse.Namespace, work: Path, out: Any) -> list[dict[str, Any]]:
    procs, token = Processes(work), "bench-" + secrets.token_hex(16)
    rows: list[dict[str, Any]] = []
    try:
        stack = start_services(procs, work, token)
        for row in prepare(stack, args):
            emit(out, rows, row)
        os.sched_setaffinity(0, {BACKEND_CPU})  # the load sits beside the backend
        baseline = proc_status(stack.gateway.pid, "VmHWM")
        emit(out, rows, {**check_bytes(stack, args.size, rows[0]["sha256"]),
                         "gw_hwm_fresh": baseline})
        for run_no in range(1, args.runs + 1):
            order = ("direct", "gateway") if run_no % 2 else ("gateway", "direct")
            for target in order:
                emit(out, rows, {"kind": "full", "run": run_no, **measured(stack, target)})
        last = max(args.size - args.range_mib * MIB, 0)
        emit(out, rows, {"kind": "range", "run": 1, **measured(stack, "gateway", last)})
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        procs.stop_all()
    return rows


def prepare(stack: Stack, args: argparse.Namespace) -> list[dict[str, Any]]:
    create_org(stack.backend_port, stack.token)
    root = stack.work / "push"
    started = time.monotonic()
    sha256 = write_file(root / FOLDER / FILENAME, args.size)
    written = time.monotonic() - started
    push_s = push(stack, root, args.chunk_mib * MIB)
    (root / FOLDER / FILENAME).unlink()  # the blob is in the backend now
    print(f"file {args.size / MIB:.0f} MiB written in {written:.1f} s, pushed in {push_s:.1f} s",
          flush=True)
    return [{"kind": "setup", "size": args.size, "sha256": sha256, "write_s": written,
             "push_s": push_s, "push_chunk_mib": args.chunk_mib, "cpus": os.cpu_count()}]


def emit(out: Any, rows: list[dict[str, Any]], row: dict[str, Any]) -> None:
    """Keep the row, append it to the results file at once, and print a line about it."""
    rows.append(row)
    out.write(json.dumps({"date": DATE, **row}) + "\n")
    out.flush()
    if row["kind"] == "setup":
        return
    print(f"{row['kind']:6s} {row['target']:8s} {row['bytes'] / MIB:6.0f} MiB "
          f"{row['seconds']:6.2f} s {row['bytes'] / MIB / row['seconds']:7.1f} MiB/s "
          f"status {row['status']}", flush=True)


def median_of(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def summary(rows: list[dict[str, Any]]) -> str:
    full = {t: [r for r in rows if r["kind"] == "full" and r["target"] == t]
            for t in ("direct", "gateway")}
    med = {t: statistics.median(r["mib_s"] for r in rs) for t, rs in full.items()}
    secs = {t: statistics.median(r["seconds"] for r in rs) for t, rs in full.items()}
    gw = full["gateway"]
    ranged = next(r for r in rows if r["kind"] == "range")
    check = next(r for r in rows if r["kind"] == "check")
    peak = max(r["gw_hwm_after"] for r in rows if "gw_hwm_after" in r)
    downloads = sum("bytes" in r for r in rows)
    lines = [
        "| download | MiB/s (median) | s (median) | per run MiB/s | gateway CPU s/GiB "
        "| backend CPU s/GiB |", "|---|---|---|---|---|---|"]
    for t in ("direct", "gateway"):
        per_run = ", ".join(f"{r['mib_s']:.0f}" for r in full[t])
        gw_cpu = "-" if t == "direct" else f"{median_of(gw, 'gw_cpu_s_per_gib'):.2f}"
        be_cpu = statistics.median(r["be_cpu_s_per_gib"] for r in full[t])
        lines.append(f"| {t}, full file | {med[t]:.0f} | {secs[t]:.2f} | {per_run} | {gw_cpu} "
                     f"| {be_cpu:.2f} |")
    lines.append(f"| gateway, last {ranged['bytes'] / MIB:.0f} MiB (Range, 206) "
                 f"| {ranged['mib_s']:.0f} | {ranged['seconds']:.2f} | - "
                 f"| {ranged['gw_cpu_s_per_gib']:.2f} | {ranged['be_cpu_s_per_gib']:.2f} |")
    bullets = [
        f"Gateway / direct (median MiB/s): {med['gateway'] / med['direct']:.2f}.",
        f"Gateway peak RSS (VmHWM): {check['gw_hwm_fresh'] / MIB:.1f} MiB fresh (after "
        f"start-up and readiness), {peak / MIB:.1f} MiB after all {downloads} downloads "
        f"(+{(peak - check['gw_hwm_fresh']) / MIB:.1f} MiB).",
        busy(full), f"Bytes: SHA-256 of a full download through the gateway equals the file's "
        f"({check['sha256'][:16]}...), 200, ETag `sha256:<hex>`; the ranged answer was "
        f"{ranged['status']} `{ranged['content_range']}`."]
    return "\n".join(lines) + "\n\n" + "".join(
        textwrap.fill(b, 96, initial_indent="- ", subsequent_indent="  ") + "\n"
        for b in bullets)


def busy(full: dict[str, list[dict[str, Any]]]) -> str:
    """How much of a core each side used during the full downloads (medians)."""
    def util(rows: list[dict[str, Any]], *keys: str) -> float:
        return float(statistics.median(sum(r[k] for k in keys) / r["seconds"] for r in rows))
    return (f"Cores busy (median): CPU 0 (backend + client) "
            f"{util(full['direct'], 'be_cpu_s', 'client_cpu_s'):.2f} direct, "
            f"{util(full['gateway'], 'be_cpu_s', 'client_cpu_s'):.2f} through the gateway; "
            f"the gateway (CPU 1) {util(full['gateway'], 'gw_cpu_s'):.2f}.")


def write_docs(path: Path, block: str) -> None:
    """Replace the generated block of the "Package download" section, or append the section."""
    text = path.read_text()
    generated = f"{DOCS_START}\n{block}{DOCS_END}"
    if DOCS_START in text:
        before, _, rest = text.partition(DOCS_START)
        text = before + generated + rest.partition(DOCS_END)[2]
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{generated}\n"
    path.write_text(text)


def docs_block(rows: list[dict[str, Any]], date: str, results: Path) -> str:
    setup = rows[0]
    shown = results.relative_to(ROOT) if results.is_relative_to(ROOT) else results
    head = (f"Run {date}: one {setup['size'] / MIB:.0f} MiB file (pushed with oras-py in "
            f"{setup['push_chunk_mib']} MiB chunks, {setup['push_s']:.1f} s), "
            f"{sum(r['kind'] == 'full' for r in rows) // 2} full downloads per path, "
            f"raw rows in `{shown}`:")
    return textwrap.fill(head, 96) + f"\n\n{summary(rows)}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--range-mib", type=int, default=100)
    parser.add_argument("--chunk-mib", type=int, default=16, help="oras-py upload chunk")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    args.size = args.size_mib * MIB
    return args


def main() -> int:
    args = parse_args()
    date = DATE
    results = args.results or ROOT / "bench" / "results" / f"download-{date}.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < 3 * args.size + 256 * MIB:
        raise SystemExit(f"{free / MIB:.0f} MiB free in {tempfile.gettempdir()}; need "
                         f"~{3 * args.size / MIB:.0f} MiB (try --size-mib 200)")
    work = Path(tempfile.mkdtemp(prefix="swr-bench-dl-"))
    try:
        with open(results, "a") as out:
            rows = run(args, work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    block = docs_block(rows, date, results)
    print(block)
    if not args.no_docs:
        write_docs(args.docs, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
