"""Upload a report folder to S3 (``--upload s3://bucket/prefix``).

Keys mirror the local layout under the prefix: ``<prefix>/<cluster>/<week>/...`` plus
``<prefix>/index.html``, so the bucket can be served as a static site. The week's files go up
first and the index last, so a reader never follows a link to a week that is not there yet.
Credentials come from the standard AWS chain (IRSA in a CronJob); the endpoint from
``endpoint_url`` or ``AWS_ENDPOINT_URL_S3`` (boto3 reads it), for S3-compatible stores and tests.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kianax_capacity._optional import import_optional
from kianax_capacity.errors import AwsError, UserInputError

__all__ = ["S3Location", "parse_s3_url", "upload_report"]


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (no leading or trailing slash; may be empty)."""

    bucket: str
    prefix: str

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket/some/prefix`` -> S3Location("bucket", "some/prefix").

    Raises:
        UserInputError: not an s3:// URL with a bucket.
    """
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserInputError(f"{url!r} must look like s3://bucket/prefix", parameter="upload")
    return S3Location(bucket=parsed.netloc, prefix=parsed.path.strip("/"))


def _content_type(path: Path) -> str:
    if path.suffix == ".parquet":
        return "application/vnd.apache.parquet"
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed and guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"


def upload_report(
    out_dir: Path,
    week_folder: Path,
    location: S3Location,
    *,
    endpoint_url: str | None = None,
    client: Any | None = None,
    extra_files: Sequence[Path] = (),
) -> int:
    """Upload one week's folder and the top-level index; returns the number of files sent.

    ``extra_files`` (under ``out_dir``) go up too: a fleet run's ``fleet/<week>.html``.

    Raises:
        AwsError: credentials, permissions, a missing bucket or the endpoint failed.
    """
    boto3 = import_optional("boto3", extra="aws")
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = client or boto3.client("s3", endpoint_url=endpoint_url)
    files = sorted(p for p in week_folder.rglob("*") if p.is_file())
    files.extend(extra_files)
    files.append(out_dir / "index.html")
    count = 0
    for path in files:
        relative = path.relative_to(out_dir).as_posix()
        try:
            s3.upload_file(
                str(path),
                location.bucket,
                location.key(relative),
                ExtraArgs={"ContentType": _content_type(path)},
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise AwsError(
                f"upload of {relative} to s3://{location.bucket}/{location.key(relative)} "
                f"failed: {exc}; check the bucket name and the credentials' s3:PutObject permission"
            ) from exc
        count += 1
    return count


def fetch_previous_recommendations(
    location: S3Location,
    cluster: str,
    week: str,
    destination: Path,
    *,
    endpoint_url: str | None = None,
    client: Any | None = None,
) -> Path | None:
    """Download the newest ``recommendations.json`` of a week before ``week`` from the bucket.

    A CronJob starts with an empty folder every week; its reports live in S3, so last week's
    recommendations (for "what changed") are read back from there.

    Returns:
        the downloaded file, or None when the bucket holds no earlier week.

    Raises:
        AwsError: the bucket cannot be listed or read.
    """
    boto3 = import_optional("boto3", extra="aws")
    from botocore.exceptions import BotoCoreError, ClientError

    from kianax_capacity.outputs.report import parse_week

    s3 = client or boto3.client("s3", endpoint_url=endpoint_url)
    prefix = location.key(f"{cluster}/")
    current = parse_week(week)
    try:
        weeks = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(prefix) :].strip("/")
                try:
                    monday = parse_week(name)
                except UserInputError:
                    continue
                if monday < current:
                    weeks.append((monday, name))
        for _, name in sorted(weeks, reverse=True):
            key = f"{prefix}{name}/recommendations.json"
            try:
                s3.download_file(location.bucket, key, str(destination))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    continue  # that week's run failed before writing: try the one before
                raise
            return destination
    except (BotoCoreError, ClientError) as exc:
        raise AwsError(
            f"cannot read last week's recommendations under s3://{location.bucket}/{prefix}: "
            f"{exc}; check the bucket and the credentials' s3:ListBucket/s3:GetObject permissions"
        ) from exc
    return None
