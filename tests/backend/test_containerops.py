"""ContainerOps REST API: groups, templates, pipelines, formats, webhooks (contract 10.3)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

if TYPE_CHECKING:
    from tests.conftest import BackendServer

_names = itertools.count()


class Ops:
    """A small ContainerOps client for the tests (JSON unless asked otherwise)."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"X-Auth-Token": token, "Accept": "application/json"}, timeout=90
        )

    def group(self, prefix: str = "grp") -> str:
        name = f"{prefix}-{next(_names)}"
        answer = self.http.post("/v3/manage/pipelinegroups", json={"group": name})
        assert answer.status_code == 201, answer.text
        return name

    def create(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"/v3/manage/pipelinegroups/{group}/pipelines", json=body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def show(self, pipeline_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/v3/manage/pipelines/{pipeline_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def start(self, pipeline_id: str, params: dict[str, str] | None = None) -> str:
        answer = self.http.post(
            f"/v3/manage/pipelines/{pipeline_id}/start", json={"params": params or {}}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["run_id"])

    def wait_status(self, pipeline_id: str, *wanted: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.show(pipeline_id)["status"]
            if status["status"] in wanted:
                return status
            time.sleep(0.05)
        raise AssertionError(f"pipeline status stayed {status['status']}, wanted {wanted}")

    def wait_job(
        self, pipeline_id: str, index: int, state: str, seconds: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            jobs = self.jobs(pipeline_id, index)
            if jobs and jobs[0]["state"] == state:
                return jobs[0]
            time.sleep(0.05)
        raise AssertionError(f"stage {index} did not reach {state}: {jobs}")

    def jobs(self, pipeline_id: str, index: int) -> list[dict[str, Any]]:
        answer = self.http.get(f"/v3/manage/pipelines/{pipeline_id}/stages/{index}/jobs")
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    def logs(
        self, pipeline_id: str, index: int, job: str = "latest", **query: Any
    ) -> httpx.Response:
        return self.http.get(
            f"/v3/manage/pipelines/{pipeline_id}/stages/{index}/jobs/{job}/logs", params=query
        )

    def lines(self, pipeline_id: str, index: int, job: str = "latest") -> list[str]:
        answer = self.logs(pipeline_id, index, job, offset=0, limit=1000)
        assert answer.status_code == 200, answer.text
        return [line["content"] for line in answer.json()["log"]]


def shell_stage(script: str, name: str = "script", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "service_name": "jenkins_build",
        "params": {"basic_env": "SelfPkgBuild", "jenkins_shell": script},
        **extra,
    }


@pytest.fixture(scope="module")
def ops(backend: BackendServer) -> Ops:
    return Ops(backend.url, backend.admin_token)


# groups and formats


def test_group_create_list_delete_in_json_and_yaml(ops: Ops) -> None:
    # given a group created from a YAML body
    name = f"yaml-{next(_names)}"
    created = ops.http.post(
        "/v3/manage/pipelinegroups",
        content=f"group: {name}\ndescription: from yaml\n",
        headers={"Content-Type": "application/yaml;charset=utf8", "Accept": "application/yaml"},
    )
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/yaml")
    body = yaml.safe_load(created.text)
    assert body["group"] == name and body["description"] == "from yaml"

    # when listed without Accept: application/json the answer is YAML, with Content-Range
    listed = ops.http.get(
        "/v3/manage/pipelinegroups?offset=0&limit=1000", headers={"Accept": "*/*"}
    )
    groups = yaml.safe_load(listed.text)
    assert listed.headers["content-type"].startswith("application/yaml")
    assert listed.headers["content-range"] == f"0-{len(groups)}/{len(groups)}"
    mine = next(g for g in groups if g["group"] == name)
    assert mine == {
        "id": body["id"],
        "group": name,
        "description": "from yaml",
        "pipeline_count": 0,
    }

    # then JSON on request, duplicates refused, delete answers 204 then 404
    as_json = ops.http.get("/v3/manage/pipelinegroups", params={"limit": 1, "offset": 0})
    assert as_json.headers["content-type"] == "application/json"
    assert len(as_json.json()) == 1
    assert ops.http.post("/v3/manage/pipelinegroups", json={"group": name}).status_code == 409
    assert ops.http.delete(f"/v3/manage/pipelinegroups/{name}").status_code == 204
    missing = ops.http.delete(f"/v3/manage/pipelinegroups/{name}")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "SVCSTG.S2I.4040001"


@pytest.mark.parametrize(
    "name", ["A", "1abc", "abc-", "a_-b", "a-_b", "a___b", "a.b", "x" * 65, ""]
)
def test_group_names_refused(ops: Ops, name: str) -> None:
    answer = ops.http.post("/v3/manage/pipelinegroups", json={"group": name})
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "SVCSTG.S2I.4000002"


def test_group_names_accepted(ops: Ops) -> None:
    for name in (f"a{next(_names)}", f"a__b-{next(_names)}", f"ab--c{next(_names)}"):
        assert ops.http.post("/v3/manage/pipelinegroups", json={"group": name}).status_code == 201


def test_no_token_is_401(backend: BackendServer) -> None:
    answer = httpx.get(f"{backend.url}/v3/manage/pipelinegroups")
    assert answer.status_code == 401


# templates


def test_templates_catalog_filters_and_my_templates(ops: Ops) -> None:
    samples = ops.http.get("/v3/manage/pipelinetemplates?filter=template_category::sample_template")
    assert [t["name"] for t in samples.json()] == [
        "image-build",
        "build-test-deploy",
        "gray-release",
    ]
    # Content-Range only answers a request that carried offset and limit (contract 1.6)
    assert "content-range" not in samples.headers
    paged = ops.http.get(
        "/v3/manage/pipelinetemplates?filter=template_category::sample_template|offset::0|limit::2"
    )
    assert paged.headers["content-range"] == "0-2/3"
    only_offset = ops.http.get("/v3/manage/pipelinetemplates?offset=0")
    assert "content-range" not in only_offset.headers
    labelled = ops.http.get("/v3/manage/pipelinetemplates?filter=pipeline_label::deploy").json()
    assert [t["name"] for t in labelled] == ["build-test-deploy", "gray-release"]
    assert labelled[1]["stages"] == [
        {"name": "review", "service_name": "test_review", "is_task": True},
        {"name": "gray deploy", "service_name": "gray_deploy", "is_task": True},
    ]

    saved = ops.http.post(
        "/v3/manage/pipelinetemplates",
        json={
            "name": "mine",
            "pipeline_labels": ["test"],
            "stages": [shell_stage("true")],
        },
    )
    assert saved.status_code == 201
    assert saved.json()["template_category"] == "my_template"
    mine = ops.http.get("/v3/manage/pipelinetemplates?filter=template_category::my_template").json()
    assert saved.json()["id"] in [t["id"] for t in mine]

    details = ops.http.get(f"/v3/manage/pipelinetemplates/{samples.json()[1]['id']}").json()
    assert details["params"][0]["name"] == "tag"
    assert details["stages"][1]["params"]["jenkins_shell"] == "make test"
    assert ops.http.get("/v3/manage/pipelinetemplates/99999").status_code == 404


# pipelines


def _simple(name: str) -> dict[str, Any]:
    return {"name": name, "description": "d", "stages": [shell_stage("echo one", "first")]}


def test_pipeline_update_follows_stage_id_rules(ops: Ops) -> None:
    group = ops.group()
    created = ops.create(group, _simple("p1"))
    stage = created["stages"][0]
    assert created["group_name"] == group and created["status"]["status"] == "waiting"
    assert stage["id"] and stage["service_name"] == "jenkins_build"

    # a stage with an id is updated, one without is added
    changed = {**stage, "name": "renamed"}
    added = {"name": "review", "service_name": "test_review", "params": {"review_mode": "one"}}
    updated = ops.http.put(
        f"/v3/manage/pipelines/{created['id']}",
        json={
            "name": "p1",
            "stages": [changed, added],
        },
    )
    assert updated.status_code == 201, updated.text
    stages = updated.json()["stages"]
    assert [s["name"] for s in stages] == ["renamed", "review"]
    assert stages[0]["id"] == stage["id"] and stages[1]["id"] not in ("", None, stage["id"])

    # service_name cannot change, unknown ids are refused
    for bad in (
        {**stage, "service_name": "code_source", "params": {"url": "x"}},
        {**stage, "id": "nope"},
    ):
        answer = ops.http.put(
            f"/v3/manage/pipelines/{created['id']}", json={"name": "p1", "stages": [bad]}
        )
        assert answer.status_code == 400
        assert answer.json()["error_code"] == "SVCSTG.S2I.4000003"


def test_pipeline_list_filters_paging_and_delete(ops: Ops) -> None:
    group = ops.group("list")
    ids = [ops.create(group, _simple(f"alpha-{i}"))["id"] for i in range(3)]
    ops.create(ops.group("other"), _simple("alpha-elsewhere"))

    by_group = ops.http.get(f"/v3/manage/pipelines?filter=group_name::{group}|limit::2|offset::0")
    assert by_group.headers["content-range"] == "0-2/3"
    unpaged = ops.http.get(f"/v3/manage/pipelines?filter=group_name::{group}")
    assert len(unpaged.json()) == 3 and "content-range" not in unpaged.headers
    assert [p["id"] for p in by_group.json()] == ids[:2]
    second = ops.http.get(f"/v3/manage/pipelines?filter=group_name::{group}|limit::2|offset::2")
    assert [p["name"] for p in second.json()] == ["alpha-2"]
    fuzzy = ops.http.get(f"/v3/manage/pipelines?filter=name::ALPHA-1|group_name::{group}").json()
    assert [p["id"] for p in fuzzy] == [ids[1]]
    group_id = ops.show(ids[0])["group_id"]
    assert len(ops.http.get(f"/v3/manage/pipelines?filter=group_id::{group_id}").json()) == 3
    item = by_group.json()[0]
    assert set(item) == {
        "name",
        "id",
        "group_id",
        "group_name",
        "description",
        "status",
        "source",
        "stages",
    }

    assert ops.http.delete(f"/v3/manage/pipelinegroups/{group}").status_code == 409
    assert ops.http.delete(f"/v3/manage/pipelines/{ids[0]}").status_code == 204
    assert ops.http.get(f"/v3/manage/pipelines/{ids[0]}").status_code == 404


def test_pipeline_show_in_yaml(ops: Ops) -> None:
    created = ops.create(ops.group(), _simple("yaml-view"))
    answer = ops.http.get(
        f"/v3/manage/pipelines/{created['id']}", headers={"Accept": "application/yaml"}
    )
    assert answer.headers["content-type"] == "application/yaml;charset=utf8"
    body = yaml.safe_load(answer.text)
    assert (
        body["id"] == created["id"] and body["stages"][0]["params"]["jenkins_shell"] == "echo one"
    )
    assert body["pre_operation"]["triggers"][0]["webhook"]["url"].startswith("http://")


def test_other_account_sees_404(ops: Ops, backend: BackendServer) -> None:
    created = ops.create(ops.group(), _simple("private"))
    account = f"acct{next(_names)}"
    backend.admin("account", "create", account)
    backend.admin("user", "create", account, "bob", "--admin")
    stranger = Ops(backend.url, backend.admin("token", "create", account, "bob"))
    for call in (stranger.http.get, stranger.http.delete):
        answer = call(f"/v3/manage/pipelines/{created['id']}")
        assert answer.status_code == 404
        assert answer.json()["error_code"] == "SVCSTG.S2I.4040002"
    assert stranger.http.post(f"/v3/manage/pipelines/{created['id']}/start").status_code == 404
    assert created["id"] not in [p["id"] for p in stranger.http.get("/v3/manage/pipelines").json()]


def test_invalid_pipelines_refused(ops: Ops) -> None:
    group = ops.group()
    bad_bodies = [
        {"name": "x", "stages": []},
        {"name": "x", "stages": [{"name": "s", "service_name": "nope", "params": {}}]},
        {"name": "x", "stages": [{"name": "s", "service_name": "code_source", "params": {}}]},
        {"name": "x", "stages": [shell_stage("true", exception_handler={"type": "timeout_reset"})]},
        {
            "name": "x",
            "stages": [shell_stage("true")],
            "pre_operation": {
                "triggers": [
                    {"pipeline_param_converts": [{"name": "a", "pipeline_param_name": "zz"}]}
                ]
            },
        },
    ]
    for body in bad_bodies:
        answer = ops.http.post(f"/v3/manage/pipelinegroups/{group}/pipelines", json=body)
        assert answer.status_code == 400, body
    assert (
        ops.http.post(
            "/v3/manage/pipelinegroups/no-such-group/pipelines", json=_simple("x")
        ).status_code
        == 404
    )


# webhooks


def _signed(
    secret: str, query: str, body: bytes = b"", timestamp: int | None = None
) -> dict[str, str]:
    """The signature headers of a webhook call: HMAC over timestamp, raw query and body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    message = stamp.encode() + b"\n" + query.encode() + b"\n" + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"X-SWR-Signature-256": "sha256=" + digest, "X-SWR-Signature-Timestamp": stamp}


def _signed_pipeline(ops: Ops, secret: str) -> tuple[str, str]:
    """A one-stage pipeline whose webhook needs a signature; its id and webhook URL."""
    created = ops.create(
        ops.group("signed"),
        {
            "name": "signed",
            "pre_operation": {"triggers": [{"webhook": {"method": "POST", "secret": secret}}]},
            "stages": [shell_stage("echo ran")],
        },
    )
    return created["id"], created["pre_operation"]["triggers"][0]["webhook"]["url"]


def test_signed_webhook_call_cannot_be_replayed(ops: Ops) -> None:
    # given one signed call that started a run
    pipeline_id, url = _signed_pipeline(ops, "replay-key")
    headers = _signed("replay-key", "", b"payload")
    assert httpx.post(url, content=b"payload", headers=headers).status_code == 201
    ops.wait_status(pipeline_id, "success")

    # when the very same request is sent again
    again = httpx.post(url, content=b"payload", headers=headers)

    # then it is refused and no second run starts
    assert again.status_code == 403
    assert again.json()["error_code"] == "SVCSTG.S2I.4030003"
    assert len(ops.jobs(pipeline_id, 0)) == 1
    # while a fresh signature of the same content (another timestamp) is accepted
    first_stamp = int(headers["X-SWR-Signature-Timestamp"])
    fresh = _signed("replay-key", "", b"payload", timestamp=first_stamp - 1)
    assert httpx.post(url, content=b"payload", headers=fresh).status_code == 201
    ops.wait_status(pipeline_id, "success")
    assert len(ops.jobs(pipeline_id, 0)) == 2


@pytest.mark.parametrize("skew", [-400, 400])
def test_signed_webhook_with_stale_timestamp_is_refused(ops: Ops, skew: int) -> None:
    pipeline_id, url = _signed_pipeline(ops, "stale-key")
    headers = _signed("stale-key", "", timestamp=int(time.time()) + skew)
    answer = httpx.post(url, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "SVCSTG.S2I.4010002"
    assert ops.jobs(pipeline_id, 0) == []


def test_signature_covers_the_timestamp(ops: Ops) -> None:
    pipeline_id, url = _signed_pipeline(ops, "stamp-key")
    signed_at = int(time.time()) - 10
    headers = _signed("stamp-key", "", timestamp=signed_at)
    without_stamp = {"X-SWR-Signature-256": headers["X-SWR-Signature-256"]}
    missing = httpx.post(url, headers=without_stamp)
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "SVCSTG.S2I.4010001"
    # a signature moved to another (still recent) timestamp no longer matches
    moved = {**headers, "X-SWR-Signature-Timestamp": str(signed_at - 10)}
    answer = httpx.post(url, headers=moved)
    assert answer.status_code == 403
    assert answer.json()["error_code"] == "SVCSTG.S2I.4030001"
    assert ops.jobs(pipeline_id, 0) == []


def test_webhook_refusals_start_nothing_then_signed_call_runs(ops: Ops) -> None:
    # given a pipeline whose webhook needs a signature and converts `msg` into `greeting`
    created = ops.create(
        ops.group("hook"),
        {
            "name": "hooked",
            "params": [{"name": "greeting", "value": "default"}],
            "pre_operation": {
                "operator": "and",
                "triggers": [
                    {
                        "webhook": {"method": "POST", "secret": "s3cret-key"},
                        "channel": {"name": "ci"},
                        "pipeline_param_converts": [
                            {"name": "msg", "pipeline_param_name": "greeting"}
                        ],
                    }
                ],
            },
            "stages": [
                shell_stage('echo "greeting=$greeting"'),
                shell_stage("echo second", "later", pre_operation={"triggers": []}),
            ],
        },
    )
    pipeline_id = created["id"]
    trigger = created["pre_operation"]["triggers"][0]
    url = trigger["webhook"]["url"]
    assert trigger["webhook"]["signature"] == "hmac-sha256" and "secret" not in trigger["webhook"]
    assert len(url.rsplit("/", 1)[1]) >= 32

    # when called with an unknown id, without signature, a bad one, or bad parameters
    base = url.rsplit("/", 1)[0]
    assert httpx.post(base + "/unknownwebhookid").status_code == 404
    assert httpx.post(url + "?msg=hi").status_code == 401
    assert (
        httpx.post(
            url + "?msg=hi", headers=_signed("wrong", "msg=hi")
        ).status_code
        == 403
    )
    assert (
        httpx.post(
            url + "?other=1", headers=_signed("s3cret-key", "other=1")
        ).status_code
        == 400
    )
    control = "msg=a%01b"
    assert (
        httpx.post(
            f"{url}?{control}", headers=_signed("s3cret-key", control)
        ).status_code
        == 400
    )

    # then nothing ran
    assert ops.show(pipeline_id)["status"]["status"] == "waiting"
    assert ops.jobs(pipeline_id, 0) == []

    # and a signed call with a parameter runs the whole pipeline with it
    answer = httpx.post(
        url + "?msg=hello",
        content=b"{}",
        headers=_signed("s3cret-key", "msg=hello", b"{}"),
    )
    assert answer.status_code == 201
    ops.wait_status(pipeline_id, "success")
    assert "greeting=hello" in ops.lines(pipeline_id, 0)
    assert len(ops.jobs(pipeline_id, 1)) == 1

    # a stage-level webhook (no secret) runs only its stage
    stage_url = ops.show(pipeline_id)["stages"][1]["pre_operation"]["triggers"][0]["webhook"]["url"]
    assert httpx.post(stage_url).status_code == 201
    ops.wait_status(pipeline_id, "success")
    assert len(ops.jobs(pipeline_id, 0)) == 1
    assert len(ops.jobs(pipeline_id, 1)) == 2
