"""The Docker files, checked without Docker: compose loads, the image copies what it needs."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

DOCKER = REPO_ROOT / "docker"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def _copied() -> set[str]:
    """The build-context paths the Dockerfile copies."""
    sources: set[str] = set()
    for instruction, args in _instructions():
        if instruction == "COPY":
            sources.update(part.rstrip("/") for part in args.split()[:-1])
    return sources


def _ignored(path: str) -> bool:
    """Docker's matching, as far as these patterns need: `**/` matches any leading folders."""
    lines = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()]
    parts = path.split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    for pattern in (line for line in lines if line and not line.startswith("#")):
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(tail, pattern[3:]) for tail in tails):
                return True
        elif fnmatch.fnmatch(path, pattern):
            return True
    return False


def _needed() -> set[str]:
    """What `pip install .` reads: pyproject, its readme, and every package's top directory."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    tops = {pattern.rstrip("*") for pattern in include}
    return {"pyproject.toml", project["project"]["readme"], *tops}


def test_compose_loads_with_healthchecks_and_ordering() -> None:
    services = _compose()["services"]
    backend, gateway = services["backend"], services["gateway"]
    assert backend["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert backend["environment"]["SWR_REGISTRY_HOST"] == "localhost:8080"
    assert "http://127.0.0.1:8080/" in " ".join(backend["healthcheck"]["test"])
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert gateway["depends_on"] == {"backend": {"condition": "service_healthy"}}
    assert gateway["environment"]["SWR_BACKEND_URL"] == "http://backend:8080"


def test_compose_says_how_to_get_the_admin_token() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    assert "exec backend cat /data/admin-token" in text
    assert "SWR_ADMIN_TOKEN" in text


def test_image_runs_unprivileged_with_a_registry_host() -> None:
    instructions = _instructions()
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(args for instruction, args in instructions if instruction == "ENV")
    assert "SWR_REGISTRY_HOST=localhost:8080" in env
    assert "SWR_DATA_DIR=/data" in env
    assert any("chown" in args and "/data" in args for i, args in instructions if i == "RUN")


def test_dockerfile_copies_everything_the_package_needs() -> None:
    needed = _needed()
    assert needed == {"pyproject.toml", "README.md", "gateway", "swrlocal"}
    assert needed <= _copied()
    assert not [path for path in needed if _ignored(path)]


def test_dockerignore_keeps_out_local_state_and_secrets() -> None:
    for path in (".git", ".venv", ".swr-data", "tests", "bench", "swrlocal/__pycache__",
                 "docker/swr.env", ".env", "data/admin-token"):
        assert _ignored(path), path


def test_a_wheel_built_from_the_copied_paths_holds_the_migrations(tmp_path: Path) -> None:
    # given a build context holding only what the Dockerfile copies
    context = tmp_path / "context"
    context.mkdir()
    for path in _copied():
        source = REPO_ROOT / path
        if source.is_dir():
            shutil.copytree(source, context / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, context / path)

    # when pip builds it as `pip install .` would
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
         str(context)],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0 and "setuptools" in result.stderr and "No matching" in result.stderr:
        pytest.skip("no package index with setuptools to build with")
    assert result.returncode == 0, result.stderr

    # then the wheel holds every migration the repository has
    wheel = next((tmp_path / "dist").glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {
        f"swrlocal/migrations/{path.name}"
        for path in (REPO_ROOT / "swrlocal" / "migrations").glob("*.sql")
    }
    assert len(migrations) >= 6
    assert migrations <= names
