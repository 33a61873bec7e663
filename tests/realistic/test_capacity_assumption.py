"""Spot nodes whose capacity type nobody reports are priced on an assumption that is said.

On the default kube-prometheus-stack layout no node label, and (without AWS access) no EC2
answer, says which nodes are spot: two of the fixture's five are (m5.large in general-spot,
c6i.xlarge in the Karpenter NodePool "default"). They are priced on-demand, the summary, the PR
comment and the report say so with the fix, and the config that declares the groups brings the
node cost within 5% of the labelled layout's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kianax_capacity.config import NodeGroupConfig, PrometheusConfig
from kianax_capacity.outputs.diff import diff_recommendations
from kianax_capacity.outputs.markdown import render_markdown
from kianax_capacity.recommendations import RecommendationSet
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.realistic.conftest import KpsServer

pytestmark = pytest.mark.integration

STEP_SECONDS = 300
#: What a user who read the banner declares: each group by its instance type, spot or not.
DECLARED = {
    "general": NodeGroupConfig(instance_types=("m6i.xlarge",), capacity_type="ON_DEMAND"),
    "general-spot": NodeGroupConfig(instance_types=("m5.large",), capacity_type="SPOT"),
    "default": NodeGroupConfig(instance_types=("c6i.xlarge",), capacity_type="SPOT"),
    "system": NodeGroupConfig(instance_types=("t3.large",), capacity_type="ON_DEMAND"),
}


def _recommend(
    server: KpsServer, out: Path, nodegroups: dict[str, NodeGroupConfig] | None = None
) -> tuple[Snapshot, RecommendationSet]:
    snapshot = fetch_prometheus_snapshot(
        PrometheusConfig(url=server.url),
        start=server.truth.start,
        end=server.truth.end,
        step_seconds=STEP_SECONDS,
        out=out,
        cluster="kps",
        nodegroups=nodegroups,
    )
    return snapshot, recommend(snapshot)


def test_unknown_capacity_type_is_an_explicit_assumption_with_its_fix(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    _, default_recs = _recommend(kps_server("default"), tmp_path / "default")
    _, labelled_recs = _recommend(kps_server("allowlist"), tmp_path / "allowlist")
    truth = {n.name: n.capacity_type for n in kps_server("default").truth.nodes}
    assert sorted(truth.values()).count("SPOT") == 2

    assumed = default_recs.summary["assumed_capacity_type"]
    assert assumed["assumed"] is True
    assert (assumed["nodes"], assumed["of"]) == (len(truth), len(truth))
    assert assumed["assumed_as"] == "ON_DEMAND"
    assert set(assumed["instance_types"]) == {"m6i.xlarge", "m5.large", "c6i.xlarge", "t3.large"}
    # The assumption's meaning in dollars: all of them as priced, and all of them on spot.
    assert assumed["node_monthly_usd"] == pytest.approx(
        default_recs.summary["node_monthly_usd"], abs=0.02
    )
    assert 0 < assumed["node_monthly_usd_if_spot"] < assumed["node_monthly_usd"]
    banner = assumed["banner"]
    for fix in (
        "--metric-labels-allowlist=nodes=[eks.amazonaws.com/capacityType,karpenter.sh/capacity-type]",
        "--ec2-nodes on",
        'capacity_type = "SPOT"',
        "upper bound",
    ):
        assert fix in banner
    comment = render_markdown(diff_recommendations(default_recs, default_recs))
    assert "have no known capacity type" in comment and "upper bound" in comment

    # The labelled layout knows every node's capacity type: no banner.
    assert labelled_recs.summary["assumed_capacity_type"]["assumed"] is False
    assert labelled_recs.summary["assumed_capacity_type"]["banner"] == ""
    assert "no known capacity type" not in render_markdown(
        diff_recommendations(labelled_recs, labelled_recs)
    )
    # Before the fix the on-demand assumption is well above the truth (29% on this fixture).
    node, true_node = (
        default_recs.summary["node_monthly_usd"],
        labelled_recs.summary["node_monthly_usd"],
    )
    assert node > 1.05 * true_node


def test_declared_groups_bring_node_cost_within_five_percent(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    snapshot, recs = _recommend(kps_server("default"), tmp_path / "declared", DECLARED)
    _, labelled_recs = _recommend(kps_server("allowlist"), tmp_path / "allowlist")
    truth = {n.name: n.capacity_type for n in kps_server("default").truth.nodes}
    got = dict(zip(snapshot.nodes["node"], snapshot.nodes["capacity_type"], strict=True))
    assert got == truth
    assert set(snapshot.nodes["capacity_type_source"]) == {"config"}
    assert recs.summary["assumed_capacity_type"]["assumed"] is False
    node = recs.summary["node_monthly_usd"]
    true_node = labelled_recs.summary["node_monthly_usd"]
    assert abs(node - true_node) <= 0.05 * true_node
