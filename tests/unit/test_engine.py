"""recommend(): every section on the demo cluster, one combined answer per workload."""

import json

import pytest

from kianax_capacity.config import Config, ExclusionsConfig
from kianax_capacity.recommendations import (
    HpaRow,
    HpaSettings,
    NodeGroupRow,
    NodeGroupSettings,
    RecommendationSet,
    Resources,
    RightsizingRow,
    SpotRow,
    validate_recommendations_json,
)
from kianax_capacity.recommenders.engine import recommend, summarize_rows


@pytest.fixture(scope="module")
def recs(demo_snapshot_full) -> RecommendationSet:
    return recommend(demo_snapshot_full)


def test_every_section_is_filled_and_valid(recs):
    data = json.loads(recs.dumps())
    validate_recommendations_json(data)
    for section in ("rightsizing", "hpa", "spot", "nodegroups", "forecast"):
        assert data[section], section
    assert data["summary"]["prices"]["source"] == "embedded"
    assert "NaN" not in recs.dumps()


def test_same_snapshot_same_file(demo_snapshot_full, recs):
    assert recommend(demo_snapshot_full).dumps() == recs.dumps()


def _rightsizing(workload, container, status, savings, risk=None):
    return RightsizingRow(
        namespace="shop",
        kind="Deployment",
        workload=workload,
        container=container,
        current=Resources(cpu_request=1.0),
        recommended=Resources(cpu_request=0.5),
        status=status,
        reason="hand-built",
        monthly_savings_usd=savings,
        risk=risk,
    )


def _hpa(workload, status, savings, included):
    return HpaRow(
        namespace="shop",
        workload=workload,
        current=HpaSettings(min_replicas=2, max_replicas=4),
        recommended=HpaSettings(min_replicas=2, max_replicas=6),
        status=status,
        reason="hand-built",
        monthly_savings_usd=savings,
        request_change_included=included,
    )


def _nodegroup(name, savings, effective=None):
    return NodeGroupRow(
        name=name,
        current=NodeGroupSettings(monthly_cost_usd=100.0, effective_monthly_cost_usd=effective),
        recommended=NodeGroupSettings(monthly_cost_usd=60.0),
        monthly_savings_usd=savings,
        reason="hand-built",
    )


HAND_BUILT = {
    "rightsizing": (
        # web's HPA row priced its new requests: its two containers are not added again.
        _rightsizing("web", "app", "ok", 10.0, risk="high"),
        _rightsizing("web", "sidecar", "ok", 2.5),
        _rightsizing("api", "app", "ok", 7.25, risk="low"),
        _rightsizing("api2", "app", "insufficient_data", 100.0),  # not ok: not counted
        _rightsizing("batch", "app", "no_change", None),
    ),
    "hpa": (
        _hpa("web", "ok", 20.0, included=True),
        _hpa("api", "no_change", 5.0, included=False),  # neither ok nor joint: not counted
        _hpa("queue", "no_change", 4.0, included=True),  # joint: its dollars count
    ),
    "spot": (
        SpotRow(
            namespace="shop",
            kind="Deployment",
            workload="web",
            ready=True,
            monthly_savings_usd=30.0,
        ),
        SpotRow(
            namespace="shop",
            kind="Deployment",
            workload="api",
            ready=False,
            monthly_savings_usd=50.0,
            blockers=("single replica",),
        ),
        SpotRow(namespace="shop", kind="Deployment", workload="batch", ready=True),
    ),
    "nodegroups": (_nodegroup("general", 40.0), _nodegroup("memory", -5.5)),
}


def test_summary_counts_each_workloads_dollars_once():
    # Worked by hand from HAND_BUILT: right-sizing = api's 7.25 (web is the HPA's, api2 not ok);
    # HPA = web 20 + queue 4; spot = web's 30 (api not ready); node groups 40 - 5.5, beside
    # the total; total = 7.25 + 24 + 30.
    summary = summarize_rows(**HAND_BUILT)
    assert summary["monthly_savings_by_section_usd"] == {
        "rightsizing": 7.25,
        "hpa": 24.0,
        "spot": 30.0,
        "nodegroups": 34.5,
    }
    assert summary["monthly_savings_usd"] == 61.25
    assert summary["counts"] == {
        "rightsizing_changes": 3,
        "rightsizing_insufficient_data": 1,
        "high_risk": 1,
        "hpa_changes": 1,
        "spot_ready": 2,
        "nodegroups": 2,
    }
    assert summary["nodegroup_cost_basis"] == "list"


def test_summary_says_when_node_group_dollars_have_effective_ones_beside():
    rows = dict(HAND_BUILT, nodegroups=(_nodegroup("general", 40.0, effective=80.0),))
    assert summarize_rows(**rows)["nodegroup_cost_basis"] == "list and effective"


def test_the_demo_summary_is_the_rows_summary(recs):
    summary = recs.summary
    assert {(r.namespace, r.workload) for r in recs.hpa if r.request_change_included}, (
        "the HPA replay should see the right-sized requests"
    )
    rows = summarize_rows(
        rightsizing=recs.rightsizing, hpa=recs.hpa, spot=recs.spot, nodegroups=recs.nodegroups
    )
    for key, value in rows.items():
        assert summary[key] == value, key


def test_hpa_scaled_cpu_is_not_raised_by_rightsizing(recs):
    rows = {(r.workload, r.container): r for r in recs.rightsizing}
    market = rows[("market-data-service", "app")]
    # Pinned at max with hot pods: more replicas, not a bigger request.
    assert market.recommended.cpu_request == market.current.cpu_request
    assert "adds replicas" in market.reason
    hpa = {r.workload: r for r in recs.hpa}
    assert (
        hpa["market-data-service"].recommended.max_replicas
        > hpa["market-data-service"].current.max_replicas
    )
    # The under-provisioned service without an HPA does get more CPU.
    risk = rows[("risk-service", "app")]
    assert risk.recommended.cpu_request > risk.current.cpu_request


def test_exclusions_and_profile_from_config(demo_snapshot):
    config = Config(profile="development", exclusions=ExclusionsConfig(namespaces=("kube-system",)))
    recs = recommend(demo_snapshot, config)
    assert recs.profile == "development"
    kube_system = [r for r in recs.rightsizing if r.namespace == "kube-system"]
    assert kube_system and all(r.status == "excluded" for r in kube_system)
