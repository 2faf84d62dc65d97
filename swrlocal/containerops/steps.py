"""What each stage kind (`service_name`) does when it runs.

Every executor gets a `StepContext` and returns the job's final state, or raises `StepFailure`
with a message for the log. Timeouts are applied around the executor by the runner; cancelling
an executor kills the process group it started.
"""

from __future__ import annotations

import asyncio
import platform
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swrlocal.containerops import dockerfile, oci
from swrlocal.containerops.process import run_streaming, step_environment
from swrlocal.db import Row

if TYPE_CHECKING:
    from swrlocal.containerops.runner import Runner

NO_TIMEOUT = 10.0 * 365 * 86400  # the runner's wait_for bounds every step
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
RAW_PARAMS = ("jenkins_shell", "dockerfile_content", "hook_command")  # get parameters as env only


class StepFailure(Exception):
    """The step failed for a reason its log should show."""


@dataclass
class StepContext:
    runner: Runner
    run: Row
    job_id: str
    stage: dict[str, Any]
    index: int
    mode: str
    params: dict[str, str]
    workspace: Path

    def log(self, line: str) -> None:
        self.runner.journal.log(self.job_id, line)

    @property
    def creator(self) -> tuple[str, str]:
        return self.run["creator_id"], self.run["creator_name"]

    def stage_params(self) -> dict[str, Any]:
        """The stage's params with `${name}` replaced by pipeline parameters (not in scripts)."""
        return {
            k: v if k in RAW_PARAMS else substitute(v, self.params)
            for k, v in self.stage["params"].items()
        }

    def env(self) -> dict[str, str]:
        names = {k: v for k, v in self.params.items() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)}
        return step_environment(
            self.workspace,
            {
                **names,
                "SWR_PIPELINE_ID": self.run["pipeline_id"],
                "SWR_RUN_ID": self.run["id"],
                "SWR_JOB_ID": self.job_id,
                "SWR_STAGE_INDEX": str(self.index),
            },
        )

    async def run_process(
        self, argv: list[str], cwd: Path, extra_env: dict[str, str] | None = None
    ) -> int:
        outcome = await run_streaming(
            argv,
            cwd=cwd,
            env={**self.env(), **(extra_env or {})},
            time_limit=NO_TIMEOUT,
            on_line=self.log,
        )
        return outcome.returncode if outcome.returncode is not None else -1


def substitute(value: Any, params: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    return value


def architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def inside(root: Path, relative: str, what: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise StepFailure(f"{what} {relative!r} is outside the workspace")
    return path


# code_source


async def code_source(ctx: StepContext) -> str:
    params = ctx.stage_params()
    url, ref = str(params["url"]), str(params.get("branch") or params.get("tag") or "")
    if ref.startswith("-") or url.startswith("-"):
        raise StepFailure("branch, tag and url may not start with '-'")
    target = ctx.workspace if not any(ctx.workspace.iterdir()) else ctx.workspace / ctx.stage["id"]
    if target.exists() and target != ctx.workspace:
        shutil.rmtree(target)  # a retry clones afresh
    argv = ["git", "clone", "--no-hardlinks"]
    if "://" in url and not url.startswith("file://"):
        argv += ["--depth", "1"]
    if ref:
        argv += ["--branch", ref]
    ctx.log(f"cloning {url}" + (f" at {ref}" if ref else ""))
    if await ctx.run_process([*argv, "--", url, str(target)], ctx.workspace) != 0:
        raise StepFailure("git clone failed")
    commit = await _capture(["git", "-C", str(target), "rev-parse", "HEAD"], ctx)
    ctx.runner.set_output(
        ctx.job_id, {"commit": commit, "path": str(target.relative_to(ctx.workspace))}
    )
    ctx.log(f"checked out commit {commit}")
    return "Successful"


async def _capture(argv: list[str], ctx: StepContext) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, env=ctx.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await process.communicate()
    return out.decode().strip()


# jenkins_build


async def jenkins_build(ctx: StepContext) -> str:
    script = str(ctx.stage["params"]["jenkins_shell"])
    status = await ctx.run_process(["bash", "-e", "-c", script], ctx.workspace)
    if status != 0:
        raise StepFailure(f"the script exited with status {status}")
    ctx.log("the script exited with status 0")
    return "Successful"


# dockerfile_build


def _image_resource(resources: list[dict[str, Any]], params: dict[str, str]) -> tuple[str, str]:
    image = next(r for r in resources if r["type"] == "image")
    values = substitute(image["params"], params)
    return f"{values['namespace']}/{values['repository']}", str(values["tag"])


async def dockerfile_build(ctx: StepContext) -> str:
    params = ctx.stage_params()
    context = inside(ctx.workspace, str(params.get("build_path") or "."), "build_path")
    if params.get("dockerfile_content"):
        text = str(params["dockerfile_content"])
    else:
        path = inside(ctx.workspace, str(params["dockerfile_path"]), "dockerfile_path")
        if not path.is_file():
            raise StepFailure(f"no Dockerfile at {params['dockerfile_path']}")
        text = path.read_text()
    repository, tag = _image_resource(ctx.stage["output_resources"], ctx.params)
    try:
        plan = dockerfile.plan(text)
    except dockerfile.BuildError as exc:
        raise StepFailure(str(exc)) from exc
    async with ctx.runner.registry_session(ctx) as registry:
        image = await (
            _buildah(ctx, text, context)
            if plan.needs_run
            else _in_process(ctx, plan, text, context, registry)
        )
        ctx.log(f"pushing {repository}:{tag} to {ctx.runner.settings.base_url}")
        digest = await registry.push(repository, tag, image)
    ctx.runner.set_output(ctx.job_id, {"image": f"{repository}:{tag}", "digest": digest})
    ctx.log(f"pushed {repository}:{tag} as {digest}")
    return "Successful"


async def _in_process(
    ctx: StepContext, plan: dockerfile.Plan, text: str, context: Path, registry: oci.RegistryClient
) -> oci.Image:
    base = None
    if plan.base != "scratch":
        repository, reference = _split_reference(plan.base, ctx.runner.settings.registry_host)
        ctx.log(f"pulling base image {repository}:{reference}")
        base = await registry.pull(repository, reference, architecture())
    loop = asyncio.get_running_loop()

    def log(line: str) -> None:  # the build runs in a thread; the journal lives on the loop
        loop.call_soon_threadsafe(ctx.log, line)

    try:
        return await asyncio.to_thread(dockerfile.build, text, context, base, architecture(), log)
    except dockerfile.BuildError as exc:
        raise StepFailure(str(exc)) from exc


def _split_reference(reference: str, registry_host: str) -> tuple[str, str]:
    name = reference
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if first != registry_host:
            raise StepFailure(
                f"FROM {reference}: only images of this registry ({registry_host}) can be used"
            )
        name = rest
    if "@" in name:
        repository, _, digest = name.partition("@")
        return repository, digest
    repository, _, tag = (
        name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    )
    if "/" not in repository:
        raise StepFailure(f"FROM {reference}: name the image as <organization>/<repository>[:tag]")
    return repository, tag


async def _buildah(ctx: StepContext, text: str, context: Path) -> oci.Image:
    tool = shutil.which("buildah")
    if tool is None:
        raise StepFailure(
            "this Dockerfile has RUN instructions, which need buildah on the server, and buildah"
            " is not installed (apt-get install buildah); the in-process builder handles only"
            " FROM, COPY, ADD, ENV, WORKDIR, LABEL, CMD, ENTRYPOINT, EXPOSE and USER"
        )
    with tempfile.TemporaryDirectory(dir=ctx.workspace.parent) as scratch:
        dockerfile_path = Path(scratch) / "Dockerfile"
        dockerfile_path.write_text(text)
        name = f"swrlocal-{ctx.job_id}"
        layout = Path(scratch) / "layout"
        build = [
            tool,
            "build",
            "--isolation",
            "chroot",
            "-f",
            str(dockerfile_path),
            "-t",
            name,
            str(context),
        ]
        if await ctx.run_process(build, ctx.workspace) != 0:
            raise StepFailure("buildah build failed")
        if await ctx.run_process([tool, "push", name, f"oci:{layout}:latest"], ctx.workspace) != 0:
            raise StepFailure("buildah push to a layout failed")
        await ctx.run_process([tool, "rmi", name], ctx.workspace)
        return oci.read_layout(layout, "latest")


# test_review


async def test_review(ctx: StepContext) -> str:
    users = [u["user_name"] for u in ctx.stage["params"].get("review_users", [])]
    mode = ctx.stage["params"].get("review_mode", "all")
    ctx.log(f"waiting for review ({mode}) by " + (", ".join(users) or "any user of the account"))
    decision = await ctx.runner.wait_for_review(ctx.job_id)
    if decision == "pass":
        ctx.log("review passed")
        return "Successful"
    ctx.log("review refused; the run stops")
    return "Cancel"


# official_deploy, gray_deploy


async def deploy(ctx: StepContext) -> str:
    target = ctx.stage_params()["target"]
    repository, tag = _image_resource(ctx.stage["input_resources"], ctx.params)
    if ctx.mode == "rollback":
        image = ctx.runner.rollback_image(ctx.run["pipeline_id"], ctx.stage["id"])
        if image is None:
            raise StepFailure("there is no earlier successful deployment to roll back to")
        ctx.log(f"rolling back {target['name']} to {image}")
    else:
        digest = ctx.runner.digest_in_run(ctx.run["id"], f"{repository}:{tag}")
        if digest is None:
            async with ctx.runner.registry_session(ctx) as registry:
                digest = await registry.resolve(repository, tag)
        image = f"{ctx.runner.settings.registry_host}/{repository}@{digest}"
        ctx.log(f"deploying {repository}:{tag} ({digest}) to {target['name']}")
    mode = "rollback" if ctx.mode == "rollback" else "deploy"
    deployment = ctx.runner.record_deployment(ctx, str(target["name"]), image, mode)
    hook: Callable[[StepContext, dict[str, Any], str, str], Awaitable[None]] = (
        _hook_url if target.get("hook_url") else _hook_command
    )
    await hook(ctx, target, image, mode)
    ctx.runner.deployment_succeeded(deployment)
    ctx.runner.set_output(ctx.job_id, {"target": target["name"], "image": image, "mode": mode})
    ctx.log(f"{mode} of {image} to {target['name']} succeeded")
    return "Successful"


async def _hook_url(ctx: StepContext, target: dict[str, Any], image: str, mode: str) -> None:
    body = {
        "target": target["name"],
        "image": image,
        "mode": mode,
        "pipeline_id": ctx.run["pipeline_id"],
        "job_id": ctx.job_id,
    }
    ctx.log(f"calling hook {target['hook_url']}")
    try:
        answer = await ctx.runner.http.post(str(target["hook_url"]), json=body)
    except Exception as exc:  # any transport failure fails the step with its reason
        raise StepFailure(f"the hook could not be called: {exc}") from exc
    if not 200 <= answer.status_code < 300:
        raise StepFailure(f"the hook answered {answer.status_code}")
    ctx.log(f"the hook answered {answer.status_code}")


async def _hook_command(ctx: StepContext, target: dict[str, Any], image: str, mode: str) -> None:
    env = {
        "SWR_DEPLOY_IMAGE": image,
        "SWR_DEPLOY_TARGET": str(target["name"]),
        "SWR_DEPLOY_MODE": mode,
    }
    ctx.log("running the hook command")
    status = await ctx.run_process(
        ["bash", "-e", "-c", str(target["hook_command"])], ctx.workspace, env
    )
    if status != 0:
        raise StepFailure(f"the hook command exited with status {status}")


EXECUTORS: dict[str, Callable[[StepContext], Awaitable[str]]] = {
    "code_source": code_source,
    "jenkins_build": jenkins_build,
    "dockerfile_build": dockerfile_build,
    "test_review": test_review,
    "official_deploy": deploy,
    "gray_deploy": deploy,
}
