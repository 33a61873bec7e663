"""No dollar figure resting on an assumed instance type goes unflagged."""

from __future__ import annotations

from kianax_capacity.outputs.diff import diff_recommendations
from kianax_capacity.outputs.markdown import render_markdown
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
