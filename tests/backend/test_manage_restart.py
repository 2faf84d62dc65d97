"""Manage API data lives in the data directory and survives a restart of the server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import start_backend, stop


def test_data_survives_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_backend(data_dir)
    try:
        headers = {"X-Auth-Token": first.admin_token}
        with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
            created = client.post("/v2/manage/namespaces", json={"namespace": "keep"})
            assert created.status_code == 201
            body = {"repository": "team/app", "is_public": True, "category": "linux"}
            assert client.post("/v2/manage/namespaces/keep/repos", json=body).status_code == 200
            patch = {"description": "kept"}
            assert client.patch("/v2/manage/namespaces/keep/repos/team$app",
                                json=patch).status_code == 201
            before = client.get("/v2/manage/namespaces/keep/repos/team$app").json()
    finally:
        stop(first.process)

    second = start_backend(data_dir)
    try:
        headers = {"X-Auth-Token": second.admin_token}
        with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
            namespaces = client.get("/v2/manage/namespaces").json()["namespaces"]
            after = client.get("/v2/manage/namespaces/keep/repos/team$app").json()
    finally:
        stop(second.process)

    assert second.admin_token == first.admin_token
    assert [(ns["name"], ns["auth"]) for ns in namespaces] == [("keep", 7)]
    # the pull address follows the new port; everything else is what was written
    moved = {"path", "internal_path"}
    assert {k: v for k, v in after.items() if k not in moved} == {
        k: v for k, v in before.items() if k not in moved
    }
    assert (after["description"], after["category"], after["is_public"]) == ("kept", "linux", True)
    assert after["path"] == f"{second.host}/keep/team/app"
