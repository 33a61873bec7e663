"""``report --upload s3://...`` against moto in server mode (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from kianax_capacity.errors import AwsError, UserInputError
from kianax_capacity.outputs.upload import S3Location, parse_s3_url, upload_report
from tests.integration.servers import reset_moto, use_test_aws_credentials

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = use_test_aws_credentials(monkeypatch, tmp_path, s3=moto_url)
    reset_moto(moto_url)
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
