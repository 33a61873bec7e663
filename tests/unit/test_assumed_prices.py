"""No dollar figure resting on an assumed instance type goes unflagged."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from kianax_capacity.outputs import notebook
from kianax_capacity.outputs.diff import diff_recommendations
from kianax_capacity.outputs.markdown import render_markdown
from kianax_capacity.outputs.notebook import ReportContext
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import Snapshot


def _unknown_types(snapshot: Snapshot) -> Snapshot:
    tables = dict(snapshot.tables)
    nodes = tables["nodes"].copy()
    first_group = sorted(nodes["node_group"].astype(str).unique())[0]
    unknown = nodes["node_group"].astype(str) == first_group
    nodes["instance_type_source"] = nodes.get("instance_type_source", "kube_node_labels")
    nodes.loc[unknown, "instance_type_source"] = "unknown"
    tables["nodes"] = nodes
    return Snapshot(manifest=snapshot.manifest, tables=tables)


def test_known_instance_types_carry_no_flag(demo_snapshot: Snapshot) -> None:
    recs = recommend(demo_snapshot)
    assert recs.summary["assumed_instance_type"]["assumed"] is False
    assert not any(r.extra.get("prices_assumed") for r in (*recs.rightsizing, *recs.spot))
    assert "[!WARNING]" not in render_markdown(diff_recommendations(recs, recs))


def test_unknown_instance_types_flag_summary_rows_and_comment(demo_snapshot: Snapshot) -> None:
    snapshot = _unknown_types(demo_snapshot)
    recs = recommend(snapshot)
    assumed = recs.summary["assumed_instance_type"]
    nodes = snapshot.nodes
    want = int((nodes["instance_type_source"] == "unknown").sum())
    assert assumed["assumed"] is True and assumed["nodes"] == want and assumed["of"] == len(nodes)
    assert "kianax-capacity doctor" in assumed["banner"] and "[nodegroups]" in assumed["banner"]
    group = assumed["node_groups"][0]
    flagged = [r for r in recs.spot if r.extra.get("node_group") == group]
    assert flagged and all(r.extra.get("prices_assumed") for r in flagged)
    others = [r for r in recs.spot if r.extra.get("node_group") not in (group, None)]
    assert others and not any(r.extra.get("prices_assumed") for r in others)
    comment = render_markdown(diff_recommendations(recs, recs))
    assert "[!WARNING]" in comment and "Dollars rest on an assumed instance type" in comment


def test_no_nodes_at_all_is_assumed(demo_snapshot: Snapshot) -> None:
    tables = dict(demo_snapshot.tables)
    tables["nodes"] = demo_snapshot.nodes.iloc[0:0]
    recs = recommend(Snapshot(manifest=demo_snapshot.manifest, tables=tables))
    assert recs.summary["assumed_instance_type"]["assumed"] is True
    assert all(r.extra.get("prices_assumed") for r in recs.rightsizing)


def _unknown_capacity(snapshot: Snapshot, group: str) -> Snapshot:
    """``group``'s nodes as the Prometheus source writes them when nothing said spot or not."""
    tables = dict(snapshot.tables)
    nodes = tables["nodes"].copy()
    nodes["capacity_type"] = nodes["capacity_type"].astype(object)
    nodes.loc[nodes["node_group"].astype(str) == group, "capacity_type"] = "UNKNOWN"
    nodes.loc[nodes["node_group"].astype(str) == group, "capacity_type_source"] = "unknown"
    tables["nodes"] = nodes
    return Snapshot(manifest=snapshot.manifest, tables=tables)


def test_known_capacity_types_carry_no_capacity_banner(demo_snapshot: Snapshot) -> None:
    capacity = recommend(demo_snapshot).summary["assumed_capacity_type"]
    assert capacity["assumed"] is False and capacity["banner"] == "" and capacity["nodes"] == 0


def test_unknown_capacity_type_is_priced_on_demand_and_said(demo_snapshot: Snapshot) -> None:
    # jobs-ng is the demo's spot group: unknown, its nodes are priced on-demand.
    known = recommend(demo_snapshot)
    snapshot = _unknown_capacity(demo_snapshot, "jobs-ng")
    recs = recommend(snapshot)
    capacity = recs.summary["assumed_capacity_type"]
    want = int((snapshot.nodes["node_group"].astype(str) == "jobs-ng").sum())
    assert capacity["assumed"] is True and capacity["nodes"] == want
    assert capacity["node_groups"] == ["jobs-ng"] and capacity["assumed_as"] == "ON_DEMAND"
    # The group's dollars as priced (on-demand), against its true (spot) figure.
    on_demand = recs.summary["node_group_monthly_usd"]["jobs-ng"]
    spot = known.summary["node_group_monthly_usd"]["jobs-ng"]
    assert on_demand > spot
    assert capacity["node_monthly_usd"] == pytest.approx(on_demand, abs=0.02)
    assert capacity["node_monthly_usd_if_spot"] == pytest.approx(spot, abs=0.02)
    assert "upper bound" in capacity["banner"] and "--ec2-nodes on" in capacity["banner"]
    comment = render_markdown(diff_recommendations(recs, recs))
    assert comment.count("[!WARNING]") == 1 and "have no known capacity type" in comment


def test_the_report_title_shows_the_capacity_assumption(demo_snapshot: Snapshot) -> None:
    snapshot = _unknown_capacity(demo_snapshot, "jobs-ng")
    recs = recommend(snapshot)
    shown: list[str] = []
    context = ReportContext(
        snapshot=snapshot, recommendations=recs, cluster="c", week="2026-W47", profile="p"
    )
    with patch.object(notebook, "_display", lambda obj: shown.append(obj.data)):
        notebook.title(context, "Weekly capacity")
    assert "Assumed capacity type." in shown[0] and "upper bound" in shown[0]
    shown.clear()
    known = ReportContext(
        snapshot=demo_snapshot,
        recommendations=recommend(demo_snapshot),
        cluster="c",
        week="2026-W47",
        profile="p",
    )
    with patch.object(notebook, "_display", lambda obj: shown.append(obj.data)):
        notebook.title(known, "Weekly capacity")
    assert "Assumed capacity type." not in shown[0]
