"""No secret ever leaves the process: not in logs (``--debug`` included), tracebacks, snapshots,
recommendations, notebooks, HTML reports, S3 uploads or PR comments.

The test plants distinctive secrets in the environment (a bearer token, a basic-auth password,
AWS keys and a session token, a GitHub token), runs every command that could touch them with
``--debug`` (fetch with bearer auth and with basic auth through the fault proxy, which answers
401 unless the right header arrives, so each secret is provably used; a fetch that fails with a
password in the URL; recommend, report with an upload to moto's S3, diff, comment to a local
recording GitHub), then greps every file written and every byte of stdout/stderr for them.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.faults.conftest import DEMO_END, RestartablePrometheus
from tests.faults.helpers import run_cli, run_cli_parallel
from tests.faults.proxy import FaultProxy
from tests.integration.servers import moto_server

pytestmark = [pytest.mark.faults, pytest.mark.integration]

BEARER = "kxbBEARERtoken-7f3a91c2e5d8"
BASIC_USER = "kxb-admin"
BASIC_PASSWORD = "kxbBASICpass-5e2b7a0c94"
AWS_KEY_ID = "AKIAKXBSECRETKEY7731"
AWS_SECRET = "kxbAWSsecret/9d8c7b6a5f4e3d2c1b0aZZ"
AWS_SESSION = "kxbAWSsession-token-4411"
GITHUB_TOKEN = "ghp_kxbGITHUBtoken0123456789abcdef"
SECRETS = {
    "bearer token": BEARER,
    "basic password": BASIC_PASSWORD,
    "basic header": base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode(),
    "AWS access key id": AWS_KEY_ID,
    "AWS secret key": AWS_SECRET,
    "AWS session token": AWS_SESSION,
    "GitHub token": GITHUB_TOKEN,
}


class RecordingGitHub:
    """A local GitHub REST API with no comments yet: records what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                owner.received.append(("GET", self.path, dict(self.headers.items()), b""))
                self._answer(200, [])

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append(("POST", self.path, dict(self.headers.items()), body))
                self._answer(201, {"id": 42, "html_url": "http://github.local/c/42"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def moto_s3() -> Iterator[str]:
    with moto_server() as url:
        yield url


def planted_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PROM_TOKEN": BEARER,
        "PROM_PASSWORD": BASIC_PASSWORD,
        "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_SESSION_TOKEN": AWS_SESSION,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "GITHUB_TOKEN": GITHUB_TOKEN,
    }


def test_no_secret_in_any_artefact_or_output(
    proxy: FaultProxy,
    fault_prometheus: RestartablePrometheus,
    moto_s3: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = planted_env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the children inherit them through os.environ
    work = tmp_path / "work"
    work.mkdir()
    window = ("--end", DEMO_END.isoformat(), "--window", "2h")
    proxy.require_authorization = f"Bearer {BEARER}"
    with FaultProxy(fault_prometheus.url) as basic_proxy, FaultProxy(fault_prometheus.url) as bad:
        basic_proxy.require_authorization = "Basic " + SECRETS["basic header"]
        bad.inject("500")
        host = bad.url.removeprefix("http://")
        outputs = run_cli_parallel(
            (
                "--debug",
                "fetch",
                "--source",
                "prometheus",
                "--prometheus-url",
                proxy.url,
                "--auth",
                "bearer",
                "--bearer-token-env",
                "PROM_TOKEN",
                *window,
                "--out",
                str(work / "snap-bearer"),
            ),
            (
                "--debug",
                "fetch",
                "--source",
                "prometheus",
                "--prometheus-url",
                basic_proxy.url,
                "--auth",
                "basic",
                "--basic-user",
                BASIC_USER,
                "--basic-password-env",
                "PROM_PASSWORD",
                *window,
                "--out",
                str(work / "snap-basic"),
            ),
            # Fails after retries, with --debug (full traceback) and a password in the URL.
            (
                "--debug",
                "--config",
                str(_fast_fail_config(tmp_path)),
                "fetch",
                "--source",
                "prometheus",
                "--prometheus-url",
                f"http://{BASIC_USER}:{BASIC_PASSWORD}@{host}",
                "--auth",
                "bearer",
                "--bearer-token-env",
                "PROM_TOKEN",
                *window,
                "--out",
                str(work / "snap-failed"),
            ),
        )
        assert basic_proxy.seen and all(
            s.headers.get("Authorization") == basic_proxy.require_authorization
            for s in basic_proxy.seen
        )
    assert outputs[0].returncode == 0, outputs[0].stderr[-2000:]
    assert outputs[1].returncode == 0, outputs[1].stderr[-2000:]
    assert outputs[2].returncode == 1 and "Traceback" in outputs[2].stderr
    assert not (work / "snap-failed").exists()
    assert any(s.headers.get("Authorization") == f"Bearer {BEARER}" for s in proxy.seen)

    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    s3.create_bucket(Bucket="kxb-reports")
    outputs += run_cli_parallel(
        ("--debug", "recommend", str(work / "snap-basic"), "--out", str(work / "recs.json")),
        (
            "--debug",
            "report",
            "--source",
            str(work / "snap-bearer"),
            "--out-dir",
            str(work / "reports"),
            "--notebooks",
            "weekly_report",
            "--upload",
            "s3://kxb-reports/weekly",
            "--s3-endpoint-url",
            moto_s3,
        ),
    )
    outputs.append(
        run_cli(
            "--debug",
            "diff",
            "--against-current",
            str(work / "recs.json"),
            "--out",
            str(work / "diff.md"),
        )
    )
    assert all(o.returncode == 0 for o in outputs[3:]), [o.stderr[-2000:] for o in outputs[3:]]
    github = RecordingGitHub()
    try:
        outputs.append(
            run_cli(
                "--debug",
                "comment",
                "--repo",
                "kianax/platform",
                "--pr",
                "7",
                "--body-file",
                str(work / "diff.md"),
                "--api-url",
                github.url,
            )
        )
    finally:
        github.close()
    assert outputs[-1].returncode == 0, outputs[-1].stderr[-2000:]
    posted = [body for method, _path, _headers, body in github.received if method == "POST"]
    assert len(posted) == 1
    assert all(h["Authorization"] == f"Bearer {GITHUB_TOKEN}" for _m, _p, h, _b in github.received)

    uploaded = [
        s3.get_object(Bucket="kxb-reports", Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket="kxb-reports")["Contents"]
    ]
    files = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".parquet" for p in files)
    assert len(uploaded) >= 3
    haystacks: dict[str, bytes] = {str(p): p.read_bytes() for p in files}
    haystacks.update({f"s3 object {i}": body for i, body in enumerate(uploaded)})
    haystacks["PR comment"] = posted[0]
    for i, output in enumerate(outputs):
        haystacks[f"stdout of run {i}"] = output.stdout.encode()
        haystacks[f"stderr of run {i}"] = output.stderr.encode()
    assert sum(len(h) for h in haystacks.values()) > 1_000_000  # the grep is not vacuous
    assert b"DEBUG" in haystacks["stderr of run 0"]  # debug logging really was on
    leaks = [
        f"{what} in {where}"
        for where, text in haystacks.items()
        for what, secret in SECRETS.items()
        if secret.encode() in text
    ]
    assert leaks == []


def _fast_fail_config(tmp_path: Path) -> Path:
    config = tmp_path / "fast-fail.toml"
    config.write_text("[prometheus]\nmax_retries = 1\nretry_backoff_seconds = 0.0\n")
    return config
