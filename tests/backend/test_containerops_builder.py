"""The in-process Dockerfile builder, checked through an OCI layout on disk and skopeo."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from swrlocal.containerops import dockerfile, oci

DOCKERFILE = """\
# a comment
FROM scratch
ENV GREETING=hello \\
    TARGET="the world"
WORKDIR /app
COPY hello.txt ./
COPY --chown=1000:1000 site/ static/
ADD bundle.tar.gz /opt/
LABEL org.example.team=ops version=1
EXPOSE 8080 53/udp
USER 1000
ENTRYPOINT ["/app/hello.txt"]
CMD serve --port 8080
"""


def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "site" / "css").mkdir(parents=True)
    (root / "hello.txt").write_text("hello\n")
    (root / "site" / "index.html").write_text("<h1>hi</h1>\n")
    (root / "site" / "css" / "a.css").write_text("h1 {}\n")
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w:gz") as archive:
        data = b"tool\n"
        info = tarfile.TarInfo("bin/tool")
        info.size, info.mode = len(data), 0o755
        archive.addfile(info, io.BytesIO(data))
    (root / "bundle.tar.gz").write_bytes(bundle.getvalue())
    return root


def layer_files(layer: oci.Blob) -> dict[str, tuple[int, int, bytes]]:
    files = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.data))) as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member)
            files[member.name] = (member.uid, member.mtime, handle.read() if handle else b"")
    return files


def test_build_writes_a_layout_skopeo_reads(tmp_path: Path, skopeo: str) -> None:
    # given a context and the Dockerfile above
    root = context(tmp_path)
    lines: list[str] = []

    # when built twice into a layout
    image = dockerfile.build(DOCKERFILE, root, None, "amd64", lines.append)
    again = dockerfile.build(DOCKERFILE, root, None, "amd64", lambda _: None)
    digest = oci.write_layout(image, tmp_path / "layout", "v1")

    # then the build is deterministic and logged step by step
    assert again.digest == image.digest == digest
    assert lines[0] == 'step: ENV GREETING=hello TARGET="the world"'
    assert len([line for line in lines if line.startswith("layer ")]) == 3

    # and skopeo sees the configuration
    inspected = subprocess.run(
        [skopeo, "inspect", "--config", f"oci:{tmp_path / 'layout'}:v1"],
        check=True,
        capture_output=True,
        text=True,
    )
    config = json.loads(inspected.stdout)["config"]
    assert config["Env"] == ["GREETING=hello", "TARGET=the world"]
    assert config["WorkingDir"] == "/app"
    assert config["Labels"] == {"org.example.team": "ops", "version": "1"}
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert config["User"] == "1000"
    assert config["Entrypoint"] == ["/app/hello.txt"]
    assert config["Cmd"] == ["/bin/sh", "-c", "serve --port 8080"]

    # and the layers hold the files, owned as asked, with mtime 0
    first, second, third = (layer_files(layer) for layer in image.layers)
    assert first["app/hello.txt"] == (0, 0, b"hello\n")
    assert second["app/static/index.html"] == (1000, 0, b"<h1>hi</h1>\n")
    assert second["app/static/css/a.css"][2] == b"h1 {}\n"
    assert third["opt/bin/tool"] == (0, 0, b"tool\n")


def test_build_on_a_base_image_keeps_its_layers(tmp_path: Path) -> None:
    root = context(tmp_path)
    base = dockerfile.build("FROM scratch\nCOPY hello.txt /\nENV A=1\n", root, None, "amd64", print)
    image = dockerfile.build("FROM x/base\nENV B=2\nCOPY site /www\n", root, base, "amd64", print)
    assert image.layers[0] == base.layers[0] and len(image.layers) == 2
    config = json.loads(image.config.data)
    assert config["config"]["Env"] == ["A=1", "B=2"]
    assert len(config["rootfs"]["diff_ids"]) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("COPY a b\n", "must start with FROM"),
        ("FROM scratch\nFROM scratch\n", "multi-stage"),
        ("FROM scratch\nHEALTHCHECK NONE\n", "HEALTHCHECK is not supported"),
        ("FROM scratch\nCOPY ../secret /\n", "outside the build context"),
        ("FROM scratch\nCOPY missing.txt /\n", "does not exist"),
        ("FROM scratch\nADD http://example.invalid/x /\n", "remote sources"),
        ("FROM scratch\nCOPY --from=build /a /\n", "--chown"),
    ],
)
def test_build_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(dockerfile.BuildError, match=message):
        dockerfile.build(text, context(tmp_path), None, "amd64", lambda _: None)


def test_run_is_planned_for_a_build_tool() -> None:
    plan = dockerfile.plan("FROM scratch\nRUN make \\\n  all\n")
    assert plan.needs_run and plan.instructions[0].value == "make all"
