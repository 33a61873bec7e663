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
    demo.write(snap, cluster="lab", created_at=datetime(2026, 11, 23, tzinfo=UTC))
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
        for p in (out / "lab" / "2026-W47").rglob("*")
        if p.is_file()
    }
    assert local <= keys
    assert {
        "weekly/index.html",
        "weekly/lab/2026-W47/explore.html",
        "weekly/lab/2026-W47/snapshot/manifest.json",
    } <= keys
    head = s3.head_object(Bucket="capacity-reports", Key="weekly/lab/2026-W47/explore.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    body = s3.get_object(Bucket="capacity-reports", Key="weekly/lab/2026-W47/recommendations.json")[
        "Body"
    ].read()
    assert body == (out / "lab" / "2026-W47" / "recommendations.json").read_bytes()


def test_missing_bucket_is_one_aws_error(
    aws_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    week = tmp_path / "lab" / "2026-W47"
    week.mkdir(parents=True)
    (week / "index.html").write_text("<p>x</p>")
    (tmp_path / "index.html").write_text("<p>all</p>")
    with pytest.raises(
        AwsError, match=r"s3://no-such-bucket/p/lab/2026-W47/index\.html failed"
    ) as error:
        upload_report(tmp_path, week, S3Location("no-such-bucket", "p"), endpoint_url=moto_url)
    assert "\n" not in str(error.value)


def test_last_week_is_read_back_from_the_bucket(
    aws_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    """A CronJob starts empty: "what changed" compares with the newest earlier week in S3."""
    from kianax_capacity.outputs.upload import fetch_previous_recommendations

    s3 = boto3.client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket="reports")
    s3.put_object(Bucket="reports", Key="p/lab/2026-W45/recommendations.json", Body=b'{"w": 45}')
    s3.put_object(Bucket="reports", Key="p/lab/2026-W46/recommendations.json", Body=b'{"w": 46}')
    s3.put_object(Bucket="reports", Key="p/lab/2026-W47/index.html", Body=b"failed run")  # no file
    s3.put_object(Bucket="reports", Key="p/lab/2026-W48/recommendations.json", Body=b'{"w": 48}')
    s3.put_object(Bucket="reports", Key="p/other/2026-W47/recommendations.json", Body=b'{"w": 0}')
    location = S3Location("reports", "p")
    found = fetch_previous_recommendations(
        location, "lab", "2026-W48", tmp_path / "prev.json", endpoint_url=moto_url
    )
    assert found == tmp_path / "prev.json" and found.read_bytes() == b'{"w": 46}'
    assert (
        fetch_previous_recommendations(
            location, "lab", "2026-W45", tmp_path / "none.json", endpoint_url=moto_url
        )
        is None
    )
