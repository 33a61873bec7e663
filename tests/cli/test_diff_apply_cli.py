"""`diff`, `apply` and `comment` end to end through ``python -m kianax_capacity``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[2]
RECS = ROOT / "tests" / "fixtures" / "recs"
TOKEN = "ghp_cliSecretToken0987654321"


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GITHUB_API_URL")
    }
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kianax_capacity", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_diff_markdown_to_stdout_and_file(tmp_path: Path) -> None:
    done = _run("diff", str(RECS / "week1.json"), str(RECS / "week2.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "tests" / "golden" / "diff_between.md").read_text()
    out = tmp_path / "comment.md"
    done = _run(
        "diff",
        "--against-current",
        str(RECS / "week2.json"),
        "--top",
        "3",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == (ROOT / "tests" / "golden" / "diff_against_current.md").read_text()


def test_diff_of_a_file_with_itself_says_no_changes_and_json_is_empty(tmp_path: Path) -> None:
    week2 = str(RECS / "week2.json")
    done = _run("diff", week2, week2, cwd=tmp_path)
    assert done.returncode == 0 and "No changes" in done.stdout
    done = _run("diff", week2, week2, "--format", "json", cwd=tmp_path)
    assert json.loads(done.stdout)["changes"] == []


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", "not a JSON file"), ('{"schema": "something-else"}', "not a valid")],
)
def test_bad_recommendation_files_exit_2_with_one_line(
    tmp_path: Path, content: str, words: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    done = _run("diff", str(bad), str(RECS / "week2.json"), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and words in done.stderr
    done = _run("apply", str(bad), "--charts", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr


def test_diff_argument_mistakes_exit_2(tmp_path: Path) -> None:
    done = _run(
        "diff",
        "--against-current",
        str(RECS / "week1.json"),
        str(RECS / "week2.json"),
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "one file" in done.stderr
    done = _run("diff", str(RECS / "week1.json"), cwd=tmp_path)
    assert done.returncode == 2 and "two files" in done.stderr


def test_apply_dry_run_then_apply(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    shutil.copytree(ROOT / "tests" / "fixtures" / "charts", charts)
    values = charts / "api-gateway" / "values-prod.yaml"
    original = values.read_text()
    done = _run("apply", str(RECS / "week2.json"), "--charts", "charts", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert values.read_text() == original
    assert done.stdout.startswith("--- a/charts/")
    assert '+    cpu: "100m"        # from the 2025 load test\n' in done.stdout
    assert "resources.limits.cpu 500m -> (removed) — no CPU limit" in done.stderr
    assert "no values file" in done.stderr and "no chart folder" in done.stderr
    assert "; set --values-file or create it" in done.stderr  # the library says `values_file`

    done = _run(
        "apply",
        str(RECS / "week2.json"),
        "--charts",
        "charts",
        "--only",
        "rightsizing",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    text = values.read_text()
    assert '    cpu: "100m"        # from the 2025 load test\n' in text
    assert "  maxReplicas: 10\n" in text  # --only rightsizing left the HPA alone
    assert done.stdout == ""


def test_apply_reads_key_paths_from_config(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    shutil.copytree(ROOT / "tests" / "fixtures" / "charts", charts)
    (tmp_path / "kianax-capacity.toml").write_text(
        '[helm]\ncontainer_paths = {"agent-service/istio-proxy" = "sidecar.resources"}\n'
    )
    done = _run("apply", str(RECS / "week2.json"), "--charts", "charts", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "      cpu: 50m\n" in (charts / "agent-service" / "values-prod.yaml").read_text()
    # The agent container's layout is unknown (no templates, no known chart): refused with the
    # exact entry to add, instead of the old guess "the chart's main container".
    assert (
        "skipped kianax/agent-service/agent: charts/agent-service has no templates/ and no "
        "Chart.yaml naming a chart" in done.stderr
    )
    assert (
        'add [helm] container_paths = {"agent-service/agent" = "<path>.resources"}' in done.stderr
    )


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.append(
            {"method": "GET", "path": self.path, "auth": self.headers.get("Authorization")}
        )
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"message": "Bad credentials"})
            return
        self._reply(200, [{"id": 5, "body": "<!-- kianax-capacity -->\nold"}])

    def do_PATCH(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append(
            {"method": "PATCH", "path": self.path, "body": json.loads(self.rfile.read(length))}
        )
        self._reply(200, {"id": 5, "html_url": "https://github.example/c/5"})


@pytest.fixture()
def api() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


def test_comment_updates_the_sticky_comment(
    tmp_path: Path, api: tuple[str, list[dict[str, Any]]]
) -> None:
    url, seen = api
    body = tmp_path / "comment.md"
    shutil.copy(ROOT / "tests" / "golden" / "diff_between.md", body)
    args = (
        "comment",
        "--repo",
        "owner/repo",
        "--pr",
        "3",
        "--body-file",
        str(body),
        "--api-url",
        url,
    )
    done = _run(*args, cwd=tmp_path, env={"GITHUB_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert "updated comment 5" in done.stdout
    assert seen[-1]["method"] == "PATCH" and seen[-1]["body"] == {"body": body.read_text()}
    assert TOKEN not in done.stdout + done.stderr

    done = _run(*args, cwd=tmp_path, env={"GITHUB_TOKEN": "wrong-token"})
    assert (
        done.returncode == 1 and "401" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    )
    assert "wrong-token" not in done.stderr

    done = _run(*args, cwd=tmp_path)
    assert done.returncode == 2 and "GITHUB_TOKEN is not set" in done.stderr


def test_the_documented_workflow_uses_real_flags() -> None:
    """Every diff/apply/comment command in the example workflow parses with the real CLI."""
    import shlex

    from kianax_capacity.cli import build_parser

    text = (ROOT / "docs" / "examples" / "weekly-rightsizing-pr.yml").read_text()
    joined = text.replace("\\\n", " ")
    commands = [
        line.strip()
        for line in joined.splitlines()
        if line.strip().startswith(
            ("kianax-capacity diff", "kianax-capacity apply", "kianax-capacity comment")
        )
    ]
    assert {c.split()[1] for c in commands} == {"diff", "apply", "comment"}
    for command in commands:
        words = shlex.split(command.replace("${{ steps.pr.outputs.number }}", "7"))
        args = build_parser().parse_args(words[1:])
        assert callable(args.func)


def test_apply_strict_fails_when_any_row_is_skipped(tmp_path: Path) -> None:
    # week2 has rows for charts that are not in the folder and an unmapped sidecar: a CI job
    # must not go green with them silently dropped.
    charts = tmp_path / "charts"
    shutil.copytree(ROOT / "tests" / "fixtures" / "charts", charts)
    done = _run("apply", str(RECS / "week2.json"), "--charts", "charts", "--strict", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "--strict" in done.stderr.strip().splitlines()[-1]
    (tmp_path / "kianax-capacity.toml").write_text("[helm]\nstrict = true\n")
    done = _run("apply", str(RECS / "week2.json"), "--charts", "charts", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    done = _run(
        "apply", str(RECS / "week2.json"), "--charts", "charts", "--no-strict", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr


def test_apply_argocd_dry_run_apply_and_strict(tmp_path: Path) -> None:
    # A real Application (argo-cd docs' valuesObject example) in envs/prod/, one row it
    # deploys and one nothing deploys: --strict exits 1, the matched row is still written.
    from tests.unit.test_helm_real_charts import R1, recommendation_set, rightsizing_row

    argo = ROOT / "tests" / "fixtures" / "argocd-corpus" / "argo-cd-docs"
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    app = tmp_path / "envs" / "prod" / "ingress-nginx.yaml"
    shutil.copyfile(argo / "ingress-nginx-values-object.yaml", app)
    matched = rightsizing_row(
        "ingress-nginx-controller", "controller", R1, namespace="ingress-nginx"
    )
    recommendation_set(matched).write(tmp_path / "one.json")
    recommendation_set(matched, rightsizing_row("api", "app", R1, namespace="shop")).write(
        tmp_path / "two.json"
    )
    before = app.read_bytes()
    dry = _run("apply", "one.json", "--argocd", "envs", "--dry-run", "--strict", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert app.read_bytes() == before
    assert "+          resources:" in dry.stdout
    done = _run("apply", "two.json", "--argocd", "envs", "--strict", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "skipped shop/api/app: no Application deploys into namespace shop" in done.stderr
    assert "1 values file(s) changed, 1 skipped; failing because of --strict" in done.stderr
    assert app.read_bytes() != before
    again = _run("apply", "one.json", "--argocd", "envs", "--strict", cwd=tmp_path)
    assert again.returncode == 0 and "0 values file(s) changed, 0 skipped" in again.stderr
    missing = _run("apply", "one.json", "--argocd", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
