"""AWS readers against moto in server mode (real HTTP): EC2 instance types, Cost Explorer with
seeded results (pagination and cache included), CUR 2.0 Parquet in S3 read through its manifest.
Also botocore's standard retries against a local HTTP server that throttles."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from kianax_capacity.errors import AwsError
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommenders.costs import allocate_costs, reconcile
from kianax_capacity.snapshot import Snapshot, SnapshotManifest, empty_table
from kianax_capacity.sources.aws_costs import cost_explorer_costs, cur_costs
from kianax_capacity.sources.aws_prices import (
    fetch_instance_specs,
    fetch_on_demand_prices,
    make_client,
)

pytestmark = pytest.mark.integration

CLUSTER = "kianax-production"
DAY1 = pd.Timestamp("2026-07-01", tz="UTC")
DAY2 = pd.Timestamp("2026-07-02", tz="UTC")


# --- EC2 instance types -------------------------------------------------------------------


def test_describe_instance_types_through_moto(
    session: boto3.session.Session, moto_url: str
) -> None:
    ec2 = make_client("ec2", "us-east-1", session, moto_url)
    specs = fetch_instance_specs(ec2, "us-east-1", ["t3.medium", "m5.large", "m7g.large"])
    assert specs["t3.medium"].max_pods == 17
    assert specs["m5.large"].max_pods == 29
    assert specs["m7g.large"].architecture == "arm64"
    assert specs["m5.large"].memory_bytes == 8 * 1024**3


def test_all_instance_types_paginated_agree_with_embedded_specs(
    session: boto3.session.Session, moto_url: str
) -> None:
    ec2 = make_client("ec2", "us-east-1", session, moto_url)
    specs = fetch_instance_specs(ec2, "us-east-1")
    assert len(specs) > 1000
    embedded = embedded_catalog().specs
    assert set(embedded) == set(specs)
    assert all(specs[name] == embedded[name] for name in embedded)


# --- Cost Explorer ------------------------------------------------------------------------


def ce_day(
    start: str, end: str, groups: list[tuple[list[str], str]], estimated: bool = False
) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Total": {},
        "Groups": [
            {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for keys, amount in groups
        ],
        "Estimated": estimated,
    }


def seed_cost_explorer(moto_url: str, estimated: bool = False) -> None:
    """Three answers in the order the reader asks: node-group page 1, page 2, purchase type."""
    results = [
        {
            "ResultsByTime": [
                ce_day(
                    "2026-07-01",
                    "2026-07-02",
                    [
                        (["eks:nodegroup-name$general-ng", "t3.medium"], "0.8000000000"),
                        (["eks:nodegroup-name$", "NoInstanceType"], "0.1500000000"),
                    ],
                )
            ],
            "NextPageToken": "page-2",
            "DimensionValueAttributes": [],
        },
        {
            "ResultsByTime": [
                ce_day(
                    "2026-07-02",
                    "2026-07-03",
                    [(["eks:nodegroup-name$general-ng", "t3.medium"], "0.9984000000")],
                    estimated,
                )
            ],
            "DimensionValueAttributes": [],
        },
        {
            "ResultsByTime": [
                ce_day(
                    "2026-07-01",
                    "2026-07-02",
                    [(["On Demand Instances", "t3.medium"], "0.8000000000")],
                ),
                ce_day(
                    "2026-07-02",
                    "2026-07-03",
                    [(["On Demand Instances", "t3.medium"], "0.9984000000")],
                ),
            ],
            "DimensionValueAttributes": [],
        },
    ]
    response = requests.post(
        f"{moto_url}/moto-api/static/ce/cost-and-usage-results",
        json={"results": results},
        timeout=10,
    )
    assert response.status_code == 201


def test_cost_explorer_follows_next_page_token_and_groups(
    session: boto3.session.Session, moto_url: str, tmp_path: Path
) -> None:
    seed_cost_explorer(moto_url)
    costs = cost_explorer_costs(
        CLUSTER,
        date(2026, 7, 1),
        date(2026, 7, 3),
        session=session,
        endpoint_url=moto_url,
        cache_dir=tmp_path,
    )
    assert costs.requests == 2 and costs.cached_requests == 0
    rows = costs.by_node_group.set_index(["day", "node_group", "instance_type"])["cost_usd"]
    assert rows[(DAY1, "general-ng", "t3.medium")] == pytest.approx(0.80)
    assert rows[(DAY1, "(untagged)", "NoInstanceType")] == pytest.approx(0.15)
    assert rows[(DAY2, "general-ng", "t3.medium")] == pytest.approx(0.9984)  # from page 2
    purchase = costs.by_purchase_type.set_index(["day", "purchase_type"])["cost_usd"]
    assert purchase[(DAY2, "On Demand Instances")] == pytest.approx(0.9984)


def test_cost_explorer_answers_are_cached_on_disk(
    session: boto3.session.Session, moto_url: str, tmp_path: Path
) -> None:
    seed_cost_explorer(moto_url)
    args = (CLUSTER, date(2026, 7, 1), date(2026, 7, 3))
    first = cost_explorer_costs(*args, session=session, endpoint_url=moto_url, cache_dir=tmp_path)
    requests.post(
        f"{moto_url}/moto-api/reset", timeout=10
    ).raise_for_status()  # moto now answers empty
    second = cost_explorer_costs(*args, session=session, endpoint_url=moto_url, cache_dir=tmp_path)
    assert (second.requests, second.cached_requests) == (0, 2)
    pd.testing.assert_frame_equal(first.by_node_group, second.by_node_group)
    assert len(list(tmp_path.glob("ce-*.json"))) == 2
    uncached = cost_explorer_costs(*args, session=session, endpoint_url=moto_url, cache_dir=None)
    assert uncached.by_node_group.empty  # proves the second call did not reach moto


def test_estimated_days_are_not_cached(
    session: boto3.session.Session, moto_url: str, tmp_path: Path
) -> None:
    seed_cost_explorer(moto_url, estimated=True)
    cost_explorer_costs(
        CLUSTER,
        date(2026, 7, 1),
        date(2026, 7, 3),
        session=session,
        endpoint_url=moto_url,
        cache_dir=tmp_path,
    )
    # Only the purchase-type answer (final days) was kept; the estimated one is asked again.
    assert len(list(tmp_path.glob("ce-*.json"))) == 1


def one_node_snapshot() -> Snapshot:
    """general-ng: one t3.medium for all of 2026-07-01 and 2026-07-02 (48 node-hours)."""
    nodes = empty_table("nodes")
    row = {
        "node": "ip-10-0-1-1",
        "node_group": "general-ng",
        "instance_type": "t3.medium",
        "zone": "us-east-1a",
        "capacity_type": "ON_DEMAND",
        "architecture": "amd64",
        "first_seen": DAY1,
        "last_seen": DAY2 + pd.Timedelta(hours=23),
    }
    nodes = pd.DataFrame([row], columns=nodes.columns)
    tables = {
        "nodes": nodes,
        **{n: empty_table(n) for n in ("pods", "containers", "usage", "workloads")},
    }
    manifest = SnapshotManifest(
        cluster=CLUSTER,
        window_start=DAY1.to_pydatetime(),
        window_end=(DAY2 + pd.Timedelta(days=1)).to_pydatetime(),
        step_seconds=3600,
        source="test",
        created_at=datetime(2026, 7, 3, tzinfo=UTC),
        tables={name: len(frame) for name, frame in tables.items()},
    )
    return Snapshot(manifest=manifest, tables=tables)


def test_reconciliation_on_seeded_cost_explorer_by_hand(
    session: boto3.session.Session, moto_url: str, tmp_path: Path
) -> None:
    seed_cost_explorer(moto_url)
    billed = cost_explorer_costs(
        CLUSTER,
        date(2026, 7, 1),
        date(2026, 7, 3),
        session=session,
        endpoint_url=moto_url,
        cache_dir=tmp_path,
    ).by_node_group
    table = reconcile(allocate_costs(one_node_snapshot(), embedded_catalog()), billed)
    rows = {(r.level, r.day, r.name): r for r in table.itertuples()}
    # Estimate: 24 h x 0.0416 USD (t3.medium, us-east-1 on-demand) = 0.9984 a day.
    day1 = rows[("node_group", DAY1, "general-ng")]
    assert day1.estimated_usd == pytest.approx(0.9984)
    assert day1.billed_usd == pytest.approx(0.80)
    assert day1.gap_usd == pytest.approx(-0.1984)
    assert day1.gap_percent == pytest.approx(-19.871794871794872)
    assert rows[("node_group", DAY2, "general-ng")].gap_usd == pytest.approx(0.0)
    untagged = rows[("node_group", DAY1, "(untagged)")]
    assert (untagged.estimated_usd, untagged.billed_usd) == (0.0, pytest.approx(0.15))
    total = rows[("total", DAY1, "(cluster)")]
    assert total.billed_usd == pytest.approx(0.95) and total.gap_usd == pytest.approx(-0.0484)


# --- CUR 2.0 in S3 ------------------------------------------------------------------------

TAGS = pa.map_(pa.string(), pa.string())


def cur_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A CUR 2.0-shaped table: flat line item / split columns plus the resource_tags map."""
    schema = pa.schema(
        [
            ("line_item_usage_start_date", pa.timestamp("ms", tz="UTC")),
            ("line_item_line_item_type", pa.string()),
            ("line_item_product_code", pa.string()),
            ("line_item_resource_id", pa.string()),
            ("line_item_unblended_cost", pa.float64()),
            ("product_instance_type", pa.string()),
            ("pricing_term", pa.string()),
            ("split_line_item_parent_resource_id", pa.string()),
            ("split_line_item_split_cost", pa.float64()),
            ("split_line_item_unused_cost", pa.float64()),
            ("resource_tags", TAGS),
        ]
    )
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    columns["resource_tags"] = [list(row.get("resource_tags", {}).items()) for row in rows]
    return pa.table(columns, schema=schema)


def instance_line(
    day: pd.Timestamp, resource: str, cost: float, tags: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "line_item_usage_start_date": day.to_pydatetime() + pd.Timedelta(hours=3),
        "line_item_line_item_type": "Usage",
        "line_item_product_code": "AmazonEC2",
        "line_item_resource_id": resource,
        "line_item_unblended_cost": cost,
        "resource_tags": tags,
        **extra,
    }


def pod_line(
    day: pd.Timestamp, namespace: str, workload: str, split: float, unused: float
) -> dict[str, Any]:
    return {
        "line_item_usage_start_date": day.to_pydatetime(),
        "line_item_line_item_type": "Usage",
        "line_item_product_code": "AmazonEKS",
        "line_item_resource_id": (
            f"arn:aws:eks:us-east-1:123456789012:pod/{CLUSTER}/{namespace}/{workload}-0/uid"
        ),
        "line_item_unblended_cost": 0.0,
        "split_line_item_parent_resource_id": "i-0general1",
        "split_line_item_split_cost": split,
        "split_line_item_unused_cost": unused,
        "resource_tags": {
            "aws_eks_cluster_name": CLUSTER,
            "aws:eks:namespace": namespace,
            "aws:eks:workload-name": workload,
        },
    }


def put_parquet(s3: Any, bucket: str, key: str, table: pa.Table) -> str:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{bucket}/{key}"


@pytest.fixture
def cur_manifest(session: boto3.session.Session, moto_url: str) -> str:
    s3 = make_client("s3", "us-east-1", session, moto_url)
    bucket = "kianax-billing"
    s3.create_bucket(Bucket=bucket)
    general = {"user_eks:cluster-name": CLUSTER, "user_eks:nodegroup-name": "general-ng"}
    file1 = cur_table(
        [
            instance_line(
                DAY1,
                "i-0general1",
                0.50,
                general,
                product_instance_type="t3.medium",
                pricing_term="OnDemand",
            ),
            instance_line(
                DAY1,
                "i-0jobs1",
                0.30,
                {
                    f"user_kubernetes.io/cluster/{CLUSTER}": "owned",
                    "user_eks:nodegroup-name": "jobs-ng",
                },
                product_instance_type="m5.large",
                pricing_term="Spot",
            ),
            instance_line(
                DAY1, "vol-0abc", 0.10, {f"user_kubernetes.io/cluster/{CLUSTER}": "owned"}
            ),
            instance_line(DAY1, "i-0other", 5.00, {"user_eks:cluster-name": "other-cluster"}),
            pod_line(DAY1, "kianax", "api-gateway", 0.20, 0.05),
            pod_line(DAY1, "kianax", "trading-service", 0.10, 0.02),
            pod_line(DAY1, "monitoring", "prometheus", 0.12, 0.01),
        ]
    )
    file2 = cur_table(
        [
            instance_line(
                DAY2,
                "i-0general1",
                0.50,
                general,
                product_instance_type="t3.medium",
                pricing_term="OnDemand",
            )
        ]
    )
    prefix = "exports/kianax-cur"
    data = f"{prefix}/data/BILLING_PERIOD=2026-07"
    uris = [
        put_parquet(s3, bucket, f"{data}/kianax-cur-00001.snappy.parquet", file1),
        put_parquet(s3, bucket, f"{data}/kianax-cur-00002.snappy.parquet", file2),
    ]
    manifest = {
        "exportName": "kianax-cur",
        "exportARN": "arn:aws:bcm-data-exports:us-east-1:123456789012:export/kianax-cur-abc",
        "billingPeriod": {"start": "2026-07-01T00:00:00.000Z", "end": "2026-08-01T00:00:00.000Z"},
        "dataFiles": uris,
        "executionId": "00000000-0000-0000-0000-000000000000",
    }
    key = f"{prefix}/metadata/BILLING_PERIOD=2026-07/kianax-cur-Manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/{key}"


def test_cur_parquet_read_through_manifest(
    session: boto3.session.Session, moto_url: str, cur_manifest: str
) -> None:
    billed = cur_costs(cur_manifest, CLUSTER, session=session, endpoint_url=moto_url)
    nodes = billed[billed["namespace"].isna()].set_index(["day", "node_group"])
    assert nodes.loc[(DAY1, "general-ng"), "cost_usd"] == pytest.approx(0.50)
    assert nodes.loc[(DAY1, "general-ng"), "instance_type"] == "t3.medium"
    assert nodes.loc[(DAY1, "jobs-ng"), "purchase_type"] == "Spot"
    assert nodes.loc[(DAY1, "(untagged)"), "cost_usd"] == pytest.approx(0.10)  # the EBS volume
    assert nodes.loc[(DAY2, "general-ng"), "cost_usd"] == pytest.approx(0.50)  # second data file
    assert billed["cost_usd"].sum() == pytest.approx(
        0.50 + 0.30 + 0.10 + 0.50 + 0.20 + 0.10 + 0.12
    )  # no other-cluster
    pods = billed[billed["namespace"].notna()].set_index(["namespace", "workload"])
    assert pods.loc[("kianax", "api-gateway"), "cost_usd"] == pytest.approx(0.20)
    assert pods.loc[("kianax", "api-gateway"), "unused_cost_usd"] == pytest.approx(0.05)
    assert pods.loc[("monitoring", "prometheus"), "cost_usd"] == pytest.approx(0.12)
    assert set(billed["source"]) == {"cur"}


def test_cur_missing_manifest_is_one_line_aws_error(
    session: boto3.session.Session, moto_url: str, cur_manifest: str
) -> None:
    with pytest.raises(AwsError) as info:
        cur_costs(
            cur_manifest.replace("Manifest", "Nope"),
            CLUSTER,
            session=session,
            endpoint_url=moto_url,
        )
    assert "does not exist" in str(info.value) and "\n" not in str(info.value)


# --- standard retries against a throttling server -----------------------------------------


class _Throttler(BaseHTTPRequestHandler):
    throttle_first = 0
    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body: dict[str, Any]
        if type(self).calls <= type(self).throttle_first:
            status, body = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        else:
            status, body = 200, {"FormatVersion": "aws_v1", "PriceList": []}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RecordedSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def throttler(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, _RecordedSleep]]:
    _Throttler.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    sleeps = _RecordedSleep()
    # botocore sleeps between retries in botocore.endpoint; record the back-off instead of waiting.
    monkeypatch.setattr(botocore.endpoint, "time", sleeps)
    yield f"http://127.0.0.1:{server.server_address[1]}", sleeps
    server.shutdown()
    thread.join()


def test_throttling_is_retried_with_backoff(
    session: boto3.session.Session, throttler: tuple[str, _RecordedSleep]
) -> None:
    url, sleeps = throttler
    _Throttler.throttle_first = 2
    pricing = make_client("pricing", "us-east-1", session, url)
    assert fetch_on_demand_prices(pricing, "us-east-1") == {}
    assert _Throttler.calls == 3
    assert len(sleeps.calls) == 2


def test_throttling_that_never_ends_is_an_aws_error(
    session: boto3.session.Session, throttler: tuple[str, _RecordedSleep]
) -> None:
    url, _ = throttler
    _Throttler.throttle_first = 1000
    pricing = make_client("pricing", "us-east-1", session, url)
    with pytest.raises(AwsError, match=r"throttled .* after 6 attempt\(s\)") as info:
        fetch_on_demand_prices(pricing, "us-east-1")
    assert _Throttler.calls == 6
    assert "\n" not in str(info.value) and "testing" not in str(info.value)
