"""Hive Gateway over GraphQL Mesh's composition of the backend's OpenAPI document.

The npm project lives outside the repository (default /tmp/swr-bench-hive): `package.json`
(exact versions) and the two config files are copied from bench/hive/, installed once with npm,
and the supergraph is composed from the running backend's `/openapi.json` on every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.procs import Processes, Service

CONFIG_FILES = ("package.json", "mesh.config.ts", "gateway.config.ts")
BIN = Path("node_modules/@graphql-hive/gateway/dist/bin.js")


def prepare(project: Path, config_dir: Path, backend_url: str) -> None:
    project.mkdir(parents=True, exist_ok=True)
    changed = False
    for name in CONFIG_FILES:
        source, target = config_dir / name, project / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
            changed |= name == "package.json"
    if changed or not (project / BIN).exists():
        # EBADENGINE warnings on Node 20 are expected (see docs/benchmarks.md).
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=project, check=True)
    env = {**os.environ, "SWR_BENCH_BACKEND": backend_url}
    subprocess.run(["npx", "mesh-compose", "-o", "supergraph.graphql"], cwd=project, env=env,
                   check=True, capture_output=True)


def start(procs: Processes, project: Path, cpu: int, port: int) -> Service:
    # `-c` matters: without it the gateway picks up mesh.config.ts as its own config.
    argv = ["node", str(BIN), "supergraph", "-c", "gateway.config.ts",
            "--host", "127.0.0.1", "--port", str(port)]
    return procs.start("hive", cpu, argv, {"NODE_ENV": "production"}, cwd=project)
