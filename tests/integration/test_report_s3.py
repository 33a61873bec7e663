"""``report --upload s3://...`` against moto in server mode (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from kianax_capacity.errors import AwsError, UserInputError
from kianax_capacity.outputs.upload import S3Location, parse_s3_url, upload_report
from kianax_capacity.snapshot import write_snapshot

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_ENDPOINT_URL_S3": moto_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return env


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket/a/b/") == S3Location("bucket", "a/b")
    assert parse_s3_url("s3://bucket").key("x.html") == "x.html"
    with pytest.raises(UserInputError):
        parse_s3_url("bucket/prefix")


def test_cli_uploads_the_week_and_the_index(
    aws_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    from kianax_capacity.sources.demo import generate_demo_snapshot

    s3 = boto3.client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket="capacity-reports")
    demo = generate_demo_snapshot(days=1)
    snap = tmp_path / "snap"
    write_snapshot(
        snap,
        demo.tables,
        cluster="lab",
        window_start=demo.window[0],
        window_end=demo.window[1],
        step_seconds=demo.step_seconds,
        source="demo",
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    out = tmp_path / "reports"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kianax_capacity",
            "report",
            "--source",
            str(snap),
            "--out-dir",
            str(out),
            "--notebooks",
            "explore",
            "--upload",
            "s3://capacity-reports/weekly/",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **aws_env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = s3.list_objects_v2(Bucket="capacity-reports", Prefix="weekly/")
    keys = {item["Key"] for item in listed.get("Contents", [])}
    local = {
        "weekly/" + p.relative_to(out).as_posix()
        for p in (out / "lab" / "2026-W48").rglob("*")
        if p.is_file()
    }
    assert local <= keys
    assert {
        "weekly/index.html",
        "weekly/lab/2026-W48/explore.html",
        "weekly/lab/2026-W48/snapshot/manifest.json",
    } <= keys
    head = s3.head_object(Bucket="capacity-reports", Key="weekly/lab/2026-W48/explore.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    body = s3.get_object(Bucket="capacity-reports", Key="weekly/lab/2026-W48/recommendations.json")[
        "Body"
    ].read()
    assert body == (out / "lab" / "2026-W48" / "recommendations.json").read_bytes()


def test_missing_bucket_is_one_aws_error(
    aws_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    week = tmp_path / "lab" / "2026-W48"
    week.mkdir(parents=True)
    (week / "index.html").write_text("<p>x</p>")
    (tmp_path / "index.html").write_text("<p>all</p>")
    with pytest.raises(
        AwsError, match=r"s3://no-such-bucket/p/lab/2026-W48/index\.html failed"
    ) as error:
        upload_report(tmp_path, week, S3Location("no-such-bucket", "p"), endpoint_url=moto_url)
    assert "\n" not in str(error.value)
