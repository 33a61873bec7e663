"""AWS faults the existing tests miss (tests/unit/test_prices_aws.py covers the translation of
every code, tests/integration/test_aws_moto.py ThrottlingException on the Pricing API over HTTP):

* ``LimitExceededException`` (what Cost Explorer answers when throttled) over real HTTP:
  retried by botocore's standard mode, then a one-line error after 6 attempts;
* expired credentials and access denied through the CLI (``recommend --prices aws``): not
  retried (one request each), one line, exit 1, the fix named, no key in the message.

The AWS side is a local JSON-protocol server; botocore's back-off sleeps are recorded, not slept.
"""

from __future__ import annotations

import http.server
import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest

from kianax_capacity.errors import AwsError
from kianax_capacity.snapshot import write_snapshot
from kianax_capacity.sources.aws_costs import cost_explorer_costs
from kianax_capacity.sources.aws_prices import make_client
from kianax_capacity.sources.demo import generate_demo_snapshot
from tests.faults.helpers import assert_one_line_error, run_main

pytestmark = pytest.mark.faults

KEY_ID = "AKIAKXBAWSFAULTS0001"
SECRET = "kxbAWSfaults/secret-value-000"


class FakeAws:
    """Answers the first ``fail_first`` requests with ``error`` (a JSON-protocol error), then a
    valid empty answer for the operation in X-Amz-Target."""

    def __init__(self, error: str, fail_first: int, status: int = 400) -> None:
        self.error, self.fail_first, self.status = error, fail_first, status
        self.calls: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                owner.calls.append(target)
                if len(owner.calls) <= owner.fail_first:
                    status = owner.status
                    body: dict[str, Any] = {
                        "__type": owner.error,
                        "message": f"no ({KEY_ID})",  # AWS sometimes echoes the key id
                    }
                elif target.endswith("GetCostAndUsage"):
                    status, body = 200, {"ResultsByTime": [], "DimensionValueAttributes": []}
                else:
                    status, body = 200, {"FormatVersion": "aws_v1", "PriceList": []}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> _Sleeps:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    sleeps = _Sleeps()
    monkeypatch.setattr(botocore.endpoint, "time", sleeps)
    return sleeps


def cost_explorer(url: str) -> Any:
    return cost_explorer_costs(
        "kianax-production",
        date(2026, 11, 1),
        date(2026, 11, 8),
        client=make_client("ce", "us-east-1", boto3.session.Session(), url),
        cache_dir=None,
    )


def test_limit_exceeded_is_retried_then_answers(aws_env: _Sleeps) -> None:
    server = FakeAws("LimitExceededException", fail_first=2)
    try:
        cost_explorer(server.url)
    finally:
        server.close()
    # Two back-offs, then the throttled call and the ones after it went through.
    assert len(aws_env.calls) == 2 and len(server.calls) >= 3


def test_limit_exceeded_that_never_ends_is_one_line(aws_env: _Sleeps) -> None:
    server = FakeAws("LimitExceededException", fail_first=1000)
    try:
        with pytest.raises(AwsError) as caught:
            cost_explorer(server.url)
    finally:
        server.close()
    assert len(server.calls) == 6  # bounded: botocore standard mode, 6 attempts in all
    message = str(caught.value)
    assert "\n" not in message and KEY_ID not in message and SECRET not in message
    assert "throttled" in message and "LimitExceededException" in message
    assert "after 6 attempt(s)" in message


@pytest.fixture(scope="module")
def small_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snapshot = generate_demo_snapshot(days=2 / 24)
    folder = tmp_path_factory.mktemp("aws-faults") / "snapshot"
    write_snapshot(
        folder,
        snapshot.tables,
        cluster=snapshot.cluster,
        window_start=snapshot.manifest.window_start,
        window_end=snapshot.manifest.window_end,
        step_seconds=snapshot.step_seconds,
        source="demo",
    )
    return folder


@pytest.mark.parametrize(
    ("error", "status", "expected"),
    [
        ("ExpiredTokenException", 400, "AWS credentials expired"),
        ("AccessDeniedException", 400, "grant the IAM permission pricing:GetProducts"),
        ("UnrecognizedClientException", 400, "AWS rejected the credentials"),
    ],
)
def test_credential_faults_fail_at_once_in_one_line(
    error: str,
    status: int,
    expected: str,
    aws_env: _Sleeps,
    small_snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = FakeAws(error, fail_first=1000, status=status)
    # botocore's service-specific endpoint variables: the CLI's own clients reach the fake.
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", server.url)
    try:
        result = run_main(
            "recommend", str(small_snapshot), "--prices", "aws", "--out", str(tmp_path / "r.json")
        )
    finally:
        server.close()
    line = assert_one_line_error(result, 1, expected, error)
    assert KEY_ID not in result.stderr and SECRET not in line
    assert len(server.calls) == 1  # not retryable: asked once
    assert not (tmp_path / "r.json").exists()
