"""ContainerOps through the gateway: queries and mutations with exact values (real backend)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.backend.test_containerops import Ops
from tests.conftest import BackendServer
from tests.gateway.conftest import Gateway, unique

CREATE_GROUP = """
mutation($name: String!) {
  createPipelineGroup(input: {name: $name, description: "ci"}) {
    id name description pipelineCount
  }
}"""
CREATE_PIPELINE = """
mutation($input: CreatePipelineInput!) {
  createPipeline(input: $input) {
    pipelineId name description groupName status
    params { name value description }
    stages { index name serviceName params triggers { method signature } }
    run { status runId stageIndex stages { index state } }
  }
}"""
START = """
mutation($id: String!) { startPipeline(id: $id) { runId pipeline { status } } }"""
AFTER_RUN = """
query($id: String!) {
  pipeline(id: $id) {
    status run { status stages { index state } }
    stages { jobs { totalCount nodes { state progress logNum mode } } }
  }
  stepLog(pipelineId: $id, stageIndex: 0, first: 2, after: null) {
    totalCount job { state logNum }
    edges { cursor node { offset content } }
    pageInfo { hasNextPage endCursor }
  }
}"""
STEP_LOG_AFTER = """
query($id: String!, $after: String!) {
  stepLog(pipelineId: $id, stageIndex: 0, first: 10, after: $after) {
    nodes { offset content } pageInfo { hasNextPage }
  }
}"""


def pipeline_input(group: str, script: str, name: str = "build") -> dict[str, Any]:
    return {
        "group": group, "name": name, "description": "prints",
        "params": [{"name": "who", "value": "world", "description": "greeting"}],
        "stages": [{"name": "script", "serviceName": "JENKINS_BUILD",
                    "params": {"basic_env": "SelfPkgBuild", "jenkins_shell": script}}],
    }


async def wait_status(gateway: Gateway, pipeline_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = await gateway.data(AFTER_RUN, {"id": pipeline_id})
        if data["pipeline"]["status"] == wanted:
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"pipeline never reached {wanted}")


async def test_group_pipeline_run_and_logs_with_exact_values(gateway: Gateway) -> None:
    # given a group and a pipeline made through the gateway
    group = unique("grp")
    created_group = (await gateway.data(CREATE_GROUP, {"name": group}))["createPipelineGroup"]
    assert created_group["name"] == group and created_group["description"] == "ci"
    assert created_group["pipelineCount"] == 0
    script = 'for i in 1 2 3; do echo "n=$i $who"; done'
    pipeline = (await gateway.data(CREATE_PIPELINE, {"input": pipeline_input(group, script)})
                )["createPipeline"]
    assert pipeline["name"] == "build" and pipeline["groupName"] == group
    assert pipeline["status"] == "WAITING"
    assert pipeline["params"] == [{"name": "who", "value": "world", "description": "greeting"}]
    assert pipeline["stages"] == [{
        "index": 0, "name": "script", "serviceName": "JENKINS_BUILD",
        "params": {"basic_env": "SelfPkgBuild", "jenkins_shell": script}, "triggers": [],
    }]
    assert pipeline["run"] == {"status": "WAITING", "runId": None, "stageIndex": 0,
                               "stages": [{"index": 0, "state": None}]}

    # when it is started and runs to the end
    started = (await gateway.data(START, {"id": pipeline["pipelineId"]}))["startPipeline"]
    assert len(started["runId"]) == 32
    data = await wait_status(gateway, pipeline["pipelineId"], "SUCCESS")

    # then the run, the step history and the log read back exactly
    assert data["pipeline"]["run"] == {"status": "SUCCESS",
                                       "stages": [{"index": 0, "state": "SUCCESSFUL"}]}
    assert data["pipeline"]["stages"][0]["jobs"] == {"totalCount": 1, "nodes": [
        {"state": "SUCCESSFUL", "progress": 100, "logNum": 6, "mode": "run"}]}
    log = data["stepLog"]
    assert log["totalCount"] == 6 and log["job"] == {"state": "SUCCESSFUL", "logNum": 6}
    assert [e["node"] for e in log["edges"]] == [
        {"offset": 0, "content": "stage 0 'script' (jenkins_build, run) started"},
        {"offset": 1, "content": "n=1 world"},
    ]
    assert log["pageInfo"]["hasNextPage"] is True
    rest = (await gateway.data(STEP_LOG_AFTER, {"id": pipeline["pipelineId"],
                                                "after": log["pageInfo"]["endCursor"]})
            )["stepLog"]
    assert rest == {"nodes": [
        {"offset": 2, "content": "n=2 world"}, {"offset": 3, "content": "n=3 world"},
        {"offset": 4, "content": "the script exited with status 0"},
        {"offset": 5, "content": "stage 0 finished: Successful"},
    ], "pageInfo": {"hasNextPage": False}}


LISTS = """
query($group: String!) {
  pipelineGroups { nodes { name pipelineCount } }
  pipelines(filter: {groupName: $group}) {
    totalCount nodes { name group { name description } stages { serviceName } }
  }
}"""


async def test_lists_update_and_delete(gateway: Gateway) -> None:
    group = unique("grp")
    await gateway.data(CREATE_GROUP, {"name": group})
    made = []
    for name in ("build", "deploy"):
        body = await gateway.data(CREATE_PIPELINE, {"input": pipeline_input(group, "true",
                                                                            name)})
        made.append(body["createPipeline"]["pipelineId"])

    data = await gateway.data(LISTS, {"group": group})
    assert {"name": group, "pipelineCount": 2} in data["pipelineGroups"]["nodes"]
    assert data["pipelines"]["totalCount"] == 2
    assert data["pipelines"]["nodes"][0] == {
        "name": "build", "group": {"name": group, "description": "ci"},
        "stages": [{"serviceName": "JENKINS_BUILD"}]}

    updated = await gateway.data(
        """mutation($id: String!) { updatePipeline(input: {id: $id, description: "new"}) {
             name description stages { name } } }""", {"id": made[0]})
    assert updated["updatePipeline"] == {"name": "build", "description": "new",
                                         "stages": [{"name": "script"}]}

    for pipeline_id in made:
        deleted = await gateway.data("mutation($id: String!) { deletePipeline(id: $id) }",
                                     {"id": pipeline_id})
        assert deleted["deletePipeline"]
    assert (await gateway.data(LISTS, {"group": group}))["pipelines"]["totalCount"] == 0
    gone = await gateway.data("query($id: String!) { pipeline(id: $id) { name } }",
                              {"id": made[0]})
    assert gone == {"pipeline": None}
    await gateway.data("mutation($g: String!) { deletePipelineGroup(name: $g) }", {"g": group})
    names = [g["name"] for g in (await gateway.data(LISTS, {"group": group})
                                 )["pipelineGroups"]["nodes"]]
    assert group not in names


async def test_errors_carry_codes(gateway: Gateway) -> None:
    group = unique("grp")
    await gateway.data(CREATE_GROUP, {"name": group})
    again = await gateway.post(CREATE_GROUP, {"name": group})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    missing = await gateway.post(START, {"id": "0" * 32})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    retry = await gateway.post(
        'mutation { retryStage(pipelineId: "x", stageIndex: -1) { runId } }')
    assert retry["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await gateway.post("{ pipelineGroups { totalCount } }", token=None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


REVIEW_PIPELINE = {
    "name": "gate",
    "stages": [{"name": "approve", "service_name": "test_review",
                "params": {"review_mode": "one", "review_users": [{"user_name": "admin"}]}}],
}


async def test_review_pass_and_retry(gateway: Gateway, backend: BackendServer,
                                     tmp_path: Path) -> None:
    ops = Ops(backend.url, backend.admin_token)
    pipeline_id = ops.create(ops.group("rev"), REVIEW_PIPELINE)["id"]
    ops.start(pipeline_id)
    ops.wait_job(pipeline_id, 0, "Waiting")

    reviewed = await gateway.data(
        """mutation($id: String!) { reviewStage(pipelineId: $id, stageIndex: 0, result: PASS) {
             run { stages { reviews { userName result } } } } }""", {"id": pipeline_id})
    assert reviewed["reviewStage"]["run"]["stages"][0]["reviews"] == [
        {"userName": "admin", "result": "PASS"}]
    assert ops.wait_status(pipeline_id, "success")["status"] == "success"

    retried = await gateway.data(
        """mutation($id: String!) { retryStage(pipelineId: $id, stageIndex: 0) {
             runId pipeline { pipelineId } } }""", {"id": pipeline_id})
    assert retried["retryStage"]["pipeline"] == {"pipelineId": pipeline_id}
    ops.wait_job(pipeline_id, 0, "Waiting")
    jobs = await gateway.data(
        """query($id: String!) { stepJobs(pipelineId: $id, stageIndex: 0) {
             totalCount nodes { mode state } } }""", {"id": pipeline_id})
    assert jobs["stepJobs"] == {"totalCount": 2, "nodes": [
        {"mode": "retry", "state": "WAITING"}, {"mode": "run", "state": "SUCCESSFUL"}]}
    await gateway.data(
        """mutation($id: String!) { reviewStage(pipelineId: $id, stageIndex: 0, result: REFUSE) {
             pipelineId } }""", {"id": pipeline_id})
    assert ops.wait_status(pipeline_id, "cancel", "success")["status"] == "cancel"


@pytest.mark.parametrize("category", ["SAMPLE_TEMPLATE"])
async def test_templates_list_and_show(gateway: Gateway, category: str) -> None:
    listed = await gateway.data(
        """query($c: TemplateCategory) { pipelineTemplates(category: $c, first: 1) {
             totalCount nodes { id databaseId name category stages { serviceName } } } }""",
        {"c": category})
    first = listed["pipelineTemplates"]["nodes"][0]
    assert first["category"] == category and listed["pipelineTemplates"]["totalCount"] >= 1
    shown = await gateway.data(
        """query($id: String!) { pipelineTemplate(id: $id) { name params stageDefinitions } }""",
        {"id": str(first["databaseId"])})
    template = shown["pipelineTemplate"]
    assert template["name"] == first["name"]
    assert [s["service_name"] for s in template["stageDefinitions"]] == [
        s["serviceName"].lower() for s in first["stages"]]
    node = await gateway.data(
        "query($id: ID!) { node(id: $id) { ... on PipelineTemplate { name } } }",
        {"id": first["id"]})
    assert node == {"node": {"name": first["name"]}}


@pytest.mark.parametrize("field", ["stepJob", "stepLog"])
@pytest.mark.parametrize("job", ["zz/../latest", "LATEST", "../x", ""])
async def test_job_ids_are_checked_before_any_backend_call(
    gateway: Gateway, field: str, job: str
) -> None:
    query = f'query($job: String!) {{ {field}(pipelineId: "p", stageIndex: 0, jobId: $job) {{'
    query += " __typename } }"

    body = await gateway.post(query, {"job": job})

    # stepLog is non-null: its error nulls the whole answer
    assert body["data"] == ({"stepJob": None} if field == "stepJob" else None)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert await gateway.backend_calls() == 0
