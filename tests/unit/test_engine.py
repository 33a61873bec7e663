"""recommend(): every section on the demo cluster, one combined answer per workload."""

import json

import pytest

from kianax_capacity.config import Config, ExclusionsConfig
from kianax_capacity.recommendations import RecommendationSet, validate_recommendations_json
from kianax_capacity.recommenders.engine import recommend


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


def test_summary_adds_up_without_double_counting(recs):
    summary = recs.summary
    sections = summary["monthly_savings_by_section_usd"]
    assert summary["monthly_savings_usd"] == pytest.approx(
        sections["rightsizing"] + sections["hpa"] + sections["spot"], abs=0.01
    )
    joint = {(r.namespace, r.workload) for r in recs.hpa if r.request_change_included}
    assert joint, "the HPA replay should see the right-sized requests"
    expected = sum(
        r.monthly_savings_usd or 0.0
        for r in recs.rightsizing
        if r.status == "ok" and (r.namespace, r.workload) not in joint
    )
    assert sections["rightsizing"] == pytest.approx(expected, abs=0.01)


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
