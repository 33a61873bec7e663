"""Effective rates of node-hours from a CUR 2.0 export with a Savings Plan, served by moto S3.

The Parquet file has the CUR 2.0 (Data Exports) column names and line item types of the AWS
Cost and Usage Report data dictionary (https://docs.aws.amazon.com/cur/latest/userguide/
data-dictionary.html): ``line_item_line_item_type`` = ``Usage`` / ``SavingsPlanCoveredUsage``
/ ``SavingsPlanNegation`` / ``SavingsPlanRecurringFee``, ``line_item_usage_type`` =
``USE1-BoxUsage:t3.medium`` for instance-hours and ``USE1-CPUCredits:t3`` for surplus credits,
``pricing_public_on_demand_cost``, ``savings_plan_savings_plan_effective_cost``,
``savings_plan_total_commitment_to_date``, ``savings_plan_used_commitment`` and the
``resource_tags`` map (``user_eks:nodegroup-name``). Amortization follows the CUR Query
Library of awslabs/aws-well-architected-labs ("Unblended, Blended, Amortized, and Net Costs").
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommenders.commitments import effective_rates
from kianax_capacity.recommenders.nodegroups import recommend_nodegroups
from kianax_capacity.sources.aws_costs import cur_node_rates
from kianax_capacity.sources.aws_prices import make_client
from tests.unit._synthetic_cluster import MIB, SyntheticCluster

pytestmark = pytest.mark.integration

CLUSTER = "kianax-production"
DAY = datetime(2026, 7, 1, tzinfo=UTC)
END = datetime(2026, 7, 2, tzinfo=UTC)
SCALE = 730 / 24  # one billed day -> a month of 730 h
T3_MEDIUM_DAY = 24 * 0.0416  # 0.9984: 24 h of t3.medium at the public on-demand rate
SP_EFFECTIVE = T3_MEDIUM_DAY * 0.72  # a Compute Savings Plan 28% off on-demand


SCHEMA = pa.schema(
    [
        ("line_item_usage_start_date", pa.timestamp("ms", tz="UTC")),
        ("line_item_usage_end_date", pa.timestamp("ms", tz="UTC")),
        ("line_item_line_item_type", pa.string()),
        ("line_item_product_code", pa.string()),
        ("line_item_usage_type", pa.string()),
        ("line_item_resource_id", pa.string()),
        ("line_item_usage_amount", pa.float64()),
        ("line_item_unblended_cost", pa.float64()),
        ("pricing_public_on_demand_cost", pa.float64()),
        ("pricing_term", pa.string()),
        ("product_instance_type", pa.string()),
        ("savings_plan_savings_plan_a_r_n", pa.string()),
        ("savings_plan_savings_plan_effective_cost", pa.float64()),
        ("savings_plan_total_commitment_to_date", pa.float64()),
        ("savings_plan_used_commitment", pa.float64()),
        ("resource_tags", pa.map_(pa.string(), pa.string())),
    ]
)
SP_ARN = "arn:aws:savingsplans::123456789012:savingsplan/3c3e6f1a-0000-4000-8000-000000000000"
GENERAL = {"user_eks:cluster-name": CLUSTER, "user_eks:nodegroup-name": "general-ng"}


def line(**values: Any) -> dict[str, Any]:
    return {
        "line_item_usage_start_date": DAY,
        "line_item_usage_end_date": END,
        "line_item_product_code": "AmazonEC2",
        **values,
    }


def cur_lines() -> list[dict[str, Any]]:
    return [
        # i-0a: covered by the Savings Plan; its on-demand charge negated on a second line.
        line(
            line_item_line_item_type="SavingsPlanCoveredUsage",
            line_item_usage_type="USE1-BoxUsage:t3.medium",
            line_item_resource_id="i-0a",
            line_item_usage_amount=24.0,
            line_item_unblended_cost=T3_MEDIUM_DAY,
            pricing_public_on_demand_cost=T3_MEDIUM_DAY,
            pricing_term="OnDemand",
            product_instance_type="t3.medium",
            savings_plan_savings_plan_a_r_n=SP_ARN,
            savings_plan_savings_plan_effective_cost=SP_EFFECTIVE,
            resource_tags=GENERAL,
        ),
        line(
            line_item_line_item_type="SavingsPlanNegation",
            line_item_usage_type="USE1-BoxUsage:t3.medium",
            line_item_resource_id="i-0a",
            line_item_usage_amount=0.0,
            line_item_unblended_cost=-T3_MEDIUM_DAY,
            product_instance_type="t3.medium",
            savings_plan_savings_plan_a_r_n=SP_ARN,
            resource_tags=GENERAL,
        ),
        # i-0b: on demand.
        line(
            line_item_line_item_type="Usage",
            line_item_usage_type="USE1-BoxUsage:t3.medium",
            line_item_resource_id="i-0b",
            line_item_usage_amount=24.0,
            line_item_unblended_cost=T3_MEDIUM_DAY,
            pricing_public_on_demand_cost=T3_MEDIUM_DAY,
            pricing_term="OnDemand",
            product_instance_type="t3.medium",
            resource_tags=GENERAL,
        ),
        # Surplus CPU credits of i-0a: 5 vCPU-hours at USD 0.05.
        line(
            line_item_line_item_type="Usage",
            line_item_usage_type="USE1-CPUCredits:t3",
            line_item_resource_id="i-0a",
            line_item_usage_amount=5.0,
            line_item_unblended_cost=0.25,
            pricing_public_on_demand_cost=0.25,
            resource_tags=GENERAL,
        ),
        # The plan's daily commitment, USD 0.75, of which SP_EFFECTIVE was used.
        line(
            line_item_line_item_type="SavingsPlanRecurringFee",
            line_item_product_code="ComputeSavingsPlans",
            line_item_usage_type="ComputeSP:1yrNoUpfront",
            line_item_resource_id=SP_ARN,
            line_item_unblended_cost=0.75,
            savings_plan_savings_plan_a_r_n=SP_ARN,
            savings_plan_total_commitment_to_date=0.75,
            savings_plan_used_commitment=SP_EFFECTIVE,
        ),
        # Another cluster's node: not ours.
        line(
            line_item_line_item_type="Usage",
            line_item_usage_type="USE1-BoxUsage:m5.large",
            line_item_resource_id="i-0other",
            line_item_usage_amount=24.0,
            line_item_unblended_cost=2.304,
            pricing_public_on_demand_cost=2.304,
            product_instance_type="m5.large",
            resource_tags={"user_eks:cluster-name": "other", "user_eks:nodegroup-name": "x"},
        ),
    ]


@pytest.fixture
def manifest(session: boto3.session.Session, moto_url: str) -> str:
    s3 = make_client("s3", "us-east-1", session, moto_url)
    s3.create_bucket(Bucket="kianax-billing")
    rows = cur_lines()
    columns = {name: [row.get(name) for row in rows] for name in SCHEMA.names}
    columns["resource_tags"] = [list(row.get("resource_tags", {}).items()) for row in rows]
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns, schema=SCHEMA), buffer, compression="snappy")
    data = "exports/kianax-cur/data/BILLING_PERIOD=2026-07/kianax-cur-00001.snappy.parquet"
    s3.put_object(Bucket="kianax-billing", Key=data, Body=buffer.getvalue())
    key = "exports/kianax-cur/metadata/BILLING_PERIOD=2026-07/kianax-cur-Manifest.json"
    body = {"exportName": "kianax-cur", "dataFiles": [f"s3://kianax-billing/{data}"]}
    s3.put_object(Bucket="kianax-billing", Key=key, Body=json.dumps(body).encode())
    return f"s3://kianax-billing/{key}"


def test_effective_rates_from_a_savings_plan_line(
    session: boto3.session.Session, moto_url: str, manifest: str
) -> None:
    """Hand-worked: a day of two t3.medium nodes, one under a 28%-off Savings Plan.

    List (public on-demand) 2 x 0.9984 = 1.9968; amortized 0.718848 + 0.9984 = 1.717248
    (the negation line and the used part of the fee are not counted twice): ratio 0.86.
    A month is 730/24 of the day. Billed surplus credits 0.25 a day; the plan's unused
    commitment 0.75 - 0.718848 = 0.031152 a day.
    """
    rates = effective_rates(
        cur_node_rates(manifest, CLUSTER, session=session, endpoint_url=moto_url)
    )
    assert set(rates) == {"general-ng"}
    general = rates["general-ng"]
    assert general.list_monthly_usd == pytest.approx(2 * T3_MEDIUM_DAY * SCALE)
    assert general.amortized_monthly_usd == pytest.approx((SP_EFFECTIVE + T3_MEDIUM_DAY) * SCALE)
    assert general.ratio == pytest.approx(0.86)
    assert general.savings_plan_list_monthly_usd == pytest.approx(T3_MEDIUM_DAY * SCALE)
    assert general.cpu_credits_billed_monthly_usd == pytest.approx(0.25 * SCALE)
    assert general.unused_commitment_monthly_usd == pytest.approx((0.75 - SP_EFFECTIVE) * SCALE)


def test_node_groups_show_list_and_effective_side_by_side(
    session: boto3.session.Session, moto_url: str, manifest: str
) -> None:
    # Three t3.medium nodes of general-ng whose pods use 0.9 cores each, two per node.
    c = SyntheticCluster(start=datetime(2026, 11, 2, tzinfo=UTC), days=2)
    nodes = [c.node(f"n{i}", "general-ng", "t3.medium", f"us-east-1{'abc'[i]}") for i in range(3)]
    c.workload(
        "app",
        "Deployment",
        "cruncher",
        nodes=[n for n in nodes for _ in (0, 1)],
        cpu=0.9,
        memory=512 * MIB,
        usage_share=1.0,
        pdb_allowed=1.0,
    )
    snapshot = c.build()
    rates = effective_rates(
        cur_node_rates(manifest, CLUSTER, session=session, endpoint_url=moto_url)
    )
    row = recommend_nodegroups(snapshot, embedded_catalog(), effective_rates=rates)[0]
    current, recommended = row.current, row.recommended
    assert current.list_monthly_cost_usd is not None and current.burstable_surplus_usd is not None
    # Today: list node-hours at the billed ratio, plus the surplus (no plan covers credits).
    assert current.effective_monthly_cost_usd == pytest.approx(
        current.list_monthly_cost_usd * 0.86 + current.burstable_surplus_usd, abs=0.02
    )
    # The recommended shape: the plan is paid in full and covers its list hours; rest at list.
    covered = T3_MEDIUM_DAY * SCALE
    assert recommended.list_monthly_cost_usd is not None
    assert recommended.burstable_surplus_usd is not None
    assert recommended.effective_monthly_cost_usd == pytest.approx(
        SP_EFFECTIVE * SCALE
        + max(recommended.list_monthly_cost_usd - covered, 0.0)
        + recommended.burstable_surplus_usd,
        abs=0.02,
    )
    assert recommended.cost_basis == "list"
    evidence = row.extra["effective"]
    assert evidence["cost_basis"] == "list and effective"  # type: ignore[index]
    commitment = row.extra["commitment"]
    assert commitment["existing_commitment_list_monthly_usd"] == pytest.approx(covered, abs=0.01)  # type: ignore[index]
    assert 0 < commitment["expected_utilisation"] <= 1  # type: ignore[index]


def test_recommend_cli_prices_node_groups_at_the_billed_rate(
    session: boto3.session.Session,
    moto_url: str,
    manifest: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from kianax_capacity.cli import main

    c = SyntheticCluster(start=datetime(2026, 11, 2, tzinfo=UTC), days=2)
    nodes = [c.node(f"n{i}", "general-ng", "t3.medium", f"us-east-1{'abc'[i]}") for i in range(3)]
    c.workload("app", "Deployment", "cruncher", nodes=nodes, cpu=0.5, memory=512 * MIB)
    snapshot = c.build()
    snapshot.write(tmp_path / "snap", cluster=CLUSTER)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    out = tmp_path / "recs.json"
    code = main(
        ["-q", "recommend", str(tmp_path / "snap"), "--out", str(out), "--billed-cur", manifest]
    )
    assert code == 0
    row = json.loads(out.read_text())["nodegroups"][0]
    # The t3.medium hours the export bills at 86% of list (a Savings Plan covers part of them).
    assert row["current"]["effective_monthly_cost_usd"] == pytest.approx(
        row["current"]["list_monthly_cost_usd"] * 0.86 + row["current"]["burstable_surplus_usd"],
        abs=0.02,
    )
