"""Pinned child processes, their CPU time from procfs, and readiness polling.

Every process is started through `taskset -c <cpu>` (which execs, so the PID is the server's own)
and stopped by that PID only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Processes:
    """Everything the benchmark started; `stop_all` ends exactly these PIDs."""

    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def start(self, name: str, cpu: int, argv: Sequence[str], env: Mapping[str, str],
              cwd: Path | None = None) -> Service:
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["taskset", "-c", str(cpu), *argv], stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **env}, cwd=cwd, start_new_session=True,
            )
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def stop(self, service: Service) -> None:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
            try:
                service.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(timeout=5)
        if service in self.services:
            self.services.remove(service)

    def stop_all(self) -> None:
        for service in reversed(list(self.services)):
            self.stop(service)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.extend(int(child) for child in text.split())
    except OSError:
        pass
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all threads) and of its live descendants."""
    total = 0.0
    for member in [pid, *_children(pid)]:
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
        if member != pid:
            total += sum(cpu_seconds(grand) for grand in _children(member))
    return total


def wait_idle(pid: int, *, window: float = 0.5, below: float = 0.05, limit: float = 120.0
              ) -> float:
    """Wait until `pid` uses less than `below` of a core over `window`: queries left over from
    a closed-loop run must not be counted in the next one. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_seconds(pid)
        time.sleep(window)
        if (cpu_seconds(pid) - before) / window < below:
            break
    return time.monotonic() - started


def wait_http(url: str, service: Service, timeout: float = 60.0) -> None:
    """Poll `url` until it answers (any status below 500) or the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited; see {service.log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} not ready at {url} after {timeout:.0f}s")
