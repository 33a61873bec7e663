"""Node-group dollars in the outputs: the PR comment, the table, the credit-balance chart."""

from __future__ import annotations

import pytest

from kianax_capacity.config import Config, NodeGroupConfig
from kianax_capacity.outputs import charts, frames, tables
from kianax_capacity.outputs.diff import diff_against_current
from kianax_capacity.outputs.markdown import render_markdown
from kianax_capacity.recommendations import RecommendationSet
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import Snapshot


@pytest.fixture(scope="module")
def recs(demo_snapshot: Snapshot) -> RecommendationSet:
    config = Config(
        nodegroups={
            "general-ng": NodeGroupConfig(("t3.medium",), "ON_DEMAND", 2, 5),
            "system-ng": NodeGroupConfig(("t3.small",), "ON_DEMAND", 2, 2),
        }
    )
    return recommend(demo_snapshot, config)


def test_the_pr_comment_says_list_and_includes_surplus(recs: RecommendationSet) -> None:
    general = {r.name: r for r in recs.nodegroups}["general-ng"]
    markdown = render_markdown(diff_against_current(recs))
    assert "Saves/month at list prices, surplus CPU credits included" in markdown
    surplus = general.current.burstable_surplus_usd
    assert surplus is not None and surplus > 0
    assert f"general-ng ${surplus:,.2f}" in markdown
    assert recs.summary["nodegroup_cost_basis"] == "list"


def test_the_node_group_table_shows_list_surplus_and_effective(recs: RecommendationSet) -> None:
    table = tables.nodegroup_table(recs).set_index("node group")
    general = {r.name: r for r in recs.nodegroups}["general-ng"]
    assert table.loc["general-ng", "list USD/month"].startswith(
        f"${general.current.list_monthly_cost_usd:,.2f}"
    )
    assert (
        f"${general.current.burstable_surplus_usd:,.2f}"
        in table.loc["general-ng", "surplus credits USD/month"]
    )
    assert table.loc["general-ng", "effective USD/month"] == "no bill"
    assert table.loc["general-ng", "cost basis"] == "list"


def test_credit_balance_over_time_per_burstable_group(
    demo_snapshot: Snapshot, recs: RecommendationSet
) -> None:
    frame = frames.credit_balance_frame(demo_snapshot, recs)
    assert set(frame["node_group"]) == {"general-ng", "system-ng"}  # jobs-ng runs m5.large
    system = frame[frame["node_group"] == "system-ng"]
    general = frame[frame["node_group"] == "general-ng"]
    # system-ng idles below its baseline: it banks credits, up to 2 nodes x 576, owes none.
    assert system["surplus_credits"].max() == 0.0
    assert 0 < system["balance_credits"].max() <= 2 * 576 + 1e-6
    # general-ng runs above its baseline: surplus owed, capped at 576 a node (5 nodes at most).
    assert 0 < general["surplus_credits"].max() <= 5 * 576 + 1e-6
    figure = charts.credit_balance(frame)
    assert {trace.name for trace in figure.data} >= {
        "general-ng: balance",
        "general-ng: surplus owed",
    }
