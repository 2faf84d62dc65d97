"""Client CPU cost of one backend call per HTTP transport: `python -m gateway.backend.probe`.

A tiny ASGI server answers every GET with a repository-sized JSON list in another process on
loopback; this process issues batches of concurrent GETs, as a nested GraphQL query does, and
reports its own CPU time (user + system) per call. The results go into docs/gateway.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from gateway.backend.client import BackendClient, Caller
from gateway.backend.http import make_transport, open_http_client
from gateway.backend.models import TagQuery
from gateway.settings import Settings

_BODY = json.dumps([{"Tag": f"v{i}", "digest": "sha256:" + "0" * 64, "size": 1} for i in range(5)])


async def _app(scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
    if scope["type"] != "http":
        return
    body = _BODY.encode()
    headers = [(b"content-type", b"application/json"), (b"content-range", b"0-5/5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _measure(get: Callable[[str], Awaitable[object]], fanout: int, rounds: int) -> float:
    for _ in range(2):  # warm the pool
        await asyncio.gather(*(get(f"/v2/x/{i}") for i in range(fanout)))
    start = time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(get(f"/v2/x/{i}") for i in range(fanout)))
    return (time.process_time() - start) * 1000 / (fanout * rounds)


async def _probe(url: str, fanout: int, rounds: int) -> dict[str, float]:
    results: dict[str, float] = {}
    settings = Settings(backend_url=url)
    for name in ("httpx-default", "httpx-aiohttp", "buffered-aiohttp"):
        client = open_http_client(settings, transport_name=name)
        sem = asyncio.Semaphore(settings.max_connections)

        async def get(path: str, client: httpx.AsyncClient = client, sem: asyncio.Semaphore = sem
                      ) -> object:
            async with sem:
                response = await client.get(path, headers={"X-Auth-Token": "t"})
            return response.json()

        results[name] = await _measure(get, fanout, rounds)
        await client.aclose()
    results["BackendClient fetch"] = await _probe_backend_client(settings, fanout, rounds)
    return results


async def _probe_backend_client(settings: Settings, fanout: int, rounds: int) -> float:
    """The gateway's own hot path: `BackendClient.list_tags` over the buffered transport."""
    transport = make_transport(settings, "buffered-aiohttp")
    client = BackendClient(
        open_http_client(settings, transport), max_connections=settings.max_connections,
        slow_call_seconds=60.0, transport=transport,
    )
    caller = Caller("t", "probe", asyncio.Semaphore(settings.max_concurrent_fetches))

    async def get(path: str) -> object:
        return await client.list_tags(caller, TagQuery("ns", path.rsplit("/", 1)[1]))

    try:
        return await _measure(get, fanout, rounds)
    finally:
        await transport.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--fanout", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.port)
        return
    server = subprocess.Popen([sys.executable, "-m", "gateway.backend.probe", "--serve",
                               "--port", str(args.port)])
    try:
        time.sleep(1.5)
        import uvloop

        results = uvloop.run(_probe(f"http://127.0.0.1:{args.port}", args.fanout, args.rounds))
    finally:
        server.terminate()
        server.wait()
    for name, ms in results.items():
        print(f"{name:18s} {ms:.3f} ms CPU per call (fan-out {args.fanout})")


if __name__ == "__main__":
    main()
