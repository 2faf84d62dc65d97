"""Child processes of steps: own process group, output streamed by line, group-wide kill.

A step's command runs in a new session, so its process group holds everything it spawns. When
the step times out, is cancelled, or ends while children it left behind still run, the whole
group gets SIGKILL: nothing a step starts outlives the step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4096
MAX_LINE = 16 * 1024  # a longer line is split, so one runaway line cannot fill memory
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None when the step timed out
    timed_out: bool


def step_environment(workspace: Path, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: the server's own (with its admin token) never reaches a step."""
    return {
        "PATH": BASE_PATH,
        "HOME": str(workspace),
        "LANG": "C.UTF-8",
        "WORKSPACE": str(workspace),
        "GIT_TERMINAL_PROMPT": "0",
        # keep `ext::` and other command-running transports out of git
        "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
        **extra,
    }


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run_streaming(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    time_limit: float,
    on_line: Callable[[str], None],
) -> Outcome:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    pgid = process.pid  # leader of its own session and group
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, on_line))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), time_limit)
    except TimeoutError:
        timed_out = True
    finally:
        # also on cancellation: children must not outlive the step
        kill_group(pgid)
        await process.wait()
    with contextlib.suppress(asyncio.CancelledError):
        await pump
    return Outcome(None if timed_out else process.returncode, timed_out)


async def _pump(stream: asyncio.StreamReader, on_line: Callable[[str], None]) -> None:
    buffer = b""
    while chunk := await stream.read(CHUNK):
        buffer += chunk
        while b"\n" in buffer or len(buffer) >= MAX_LINE:
            cut = buffer.find(b"\n")
            line, buffer = (
                (buffer[:cut], buffer[cut + 1 :])
                if cut >= 0
                else (buffer[:MAX_LINE], buffer[MAX_LINE:])
            )
            on_line(line.decode("utf-8", "replace").rstrip("\r"))
    if buffer:
        on_line(buffer.decode("utf-8", "replace").rstrip("\r"))
