"""The embedded price catalog: data, unit-price split, node-group prices, errors."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kianax_capacity.errors import UserInputError
from kianax_capacity.prices import (
    EKS_CONTROL_PLANE_HOURLY_USD,
    PriceCatalog,
    embedded_catalog,
    node_group_unit_prices,
    normalize_capacity_type,
    price_nodes,
)
from kianax_capacity.units import GIB

FAMILIES = ("t3 t3a t4g m5 m6i m6g m7i m7g c5 c6i c6g c7i c7g r5 r6i r6g r7i r7g").split()  # noqa: SIM905
CATALOG = embedded_catalog()


def test_catalog_is_dated_offline_and_cached() -> None:
    assert CATALOG.source == "embedded"
    assert CATALOG.region == "us-east-1"
    assert CATALOG.as_of == "2026-07-20"
    assert embedded_catalog() is CATALOG
    assert EKS_CONTROL_PLANE_HOURLY_USD == 0.10


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", ["large", "xlarge", "2xlarge"])
def test_every_required_family_has_spec_and_prices(family: str, size: str) -> None:
    instance_type = f"{family}.{size}"
    spec = CATALOG.spec(instance_type)
    price = CATALOG.price(instance_type)
    assert spec.vcpu >= 2 and spec.memory_bytes >= 4 * GIB
    assert spec.architecture == ("arm64" if family[-1] == "g" else "amd64")
    assert price.on_demand_hourly_usd > 0
    assert (
        price.spot_hourly_usd is not None and 0 < price.spot_hourly_usd < price.on_demand_hourly_usd
    )
    assert instance_type in CATALOG.instance_types()


def test_published_figures() -> None:
    # Values from the AWS docs (eni-max-pods.txt) and the us-east-1 price list.
    assert CATALOG.spec("t3.medium").max_pods == 17
    assert CATALOG.spec("m5.large").max_pods == 29
    assert CATALOG.spec("t3.medium").memory_bytes == 4 * GIB
    assert CATALOG.node_hourly_usd("t3.medium", "ON_DEMAND") == pytest.approx(0.0416)
    assert CATALOG.node_hourly_usd("m5.large", "ON_DEMAND") == pytest.approx(0.096)


def test_spot_price_is_on_demand_less_advisor_savings() -> None:
    price = CATALOG.price("t3.medium")
    # Spot advisor (2025-07) says t3.medium saves 56 % in us-east-1 Linux, interruption <5 %.
    assert price.spot_savings_percent == 56
    assert price.spot_hourly_usd == pytest.approx(0.0416 * 0.44)
    assert CATALOG.node_hourly_usd("t3.medium", "spot") == pytest.approx(0.0416 * 0.44)
    assert CATALOG.interruption_range("t3.medium") == "<5%"
    assert CATALOG.interruption_range("t3a.large") == ">20%"


def test_interruption_ranges_are_labels() -> None:
    labels = {CATALOG.interruption_range(t) for t in CATALOG.instance_types()}
    assert labels <= {"<5%", "5-10%", "10-15%", "15-20%", ">20%", None}
    assert {"<5%", ">20%"} <= labels


def test_t3_medium_unit_prices_by_hand() -> None:
    # ratio r = 0.031611 / 0.004237; ram = 0.0416 / (2 r + 4); cpu = r * ram.
    ratio = 0.031611 / 0.004237
    ram = 0.0416 / (2 * ratio + 4)
    prices = CATALOG.unit_prices("t3.medium", "ON_DEMAND")
    assert prices.memory_gib_hour_usd == pytest.approx(ram, rel=1e-12)
    assert prices.cpu_core_hour_usd == pytest.approx(0.016402864, rel=1e-6)
    assert prices.hourly_usd(2, 4 * GIB) == pytest.approx(0.0416, rel=1e-12)


@given(st.sampled_from(CATALOG.instance_types()), st.sampled_from(["ON_DEMAND", "SPOT"]))
def test_unit_prices_reproduce_node_price(instance_type: str, capacity_type: str) -> None:
    spec = CATALOG.spec(instance_type)
    units = CATALOG.unit_prices(instance_type, capacity_type)
    node = CATALOG.node_hourly_usd(instance_type, capacity_type)
    assert units.hourly_usd(spec.vcpu, spec.memory_bytes) == pytest.approx(
        node, rel=1e-12, abs=1e-15
    )
    if node > 0:
        assert units.cpu_core_hour_usd / units.memory_gib_hour_usd == pytest.approx(
            CATALOG.cpu_to_ram_price_ratio
        )


def test_unknown_instance_type_names_it_and_the_fix() -> None:
    with pytest.raises(UserInputError) as info:
        CATALOG.price("z9.huge")
    message = str(info.value)
    assert (
        "z9.huge" in message
        and "use `prices` aws to fetch it live" in message
        and "\n" not in message
    )
    with pytest.raises(UserInputError, match=r"z9\.huge"):
        CATALOG.spec("z9.huge")
    with pytest.raises(UserInputError, match="capacity type"):
        CATALOG.node_hourly_usd("t3.medium", "RESERVED")


def test_capacity_type_spellings() -> None:
    assert normalize_capacity_type("on-demand") == "ON_DEMAND"
    assert normalize_capacity_type("ON_DEMAND") == "ON_DEMAND"
    assert normalize_capacity_type("spot") == "SPOT"


def test_other_region_is_an_estimate_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kianax_capacity.prices.catalog"):
        catalog = embedded_catalog("eu-west-1")
    assert catalog.region == "eu-west-1"
    assert len(catalog.warnings) == 1 and "us-east-1 only" in catalog.warnings[0]
    assert catalog.node_hourly_usd("t3.medium") == CATALOG.node_hourly_usd("t3.medium")


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOG.on_demand_hourly_usd["t3.medium"] = 0.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        CATALOG.region = "eu-west-1"  # type: ignore[misc]


def _nodes() -> pd.DataFrame:
    t0 = pd.Timestamp("2026-07-01T00:00:00Z")
    rows = [
        # node, group, type, capacity, first, last (hours after t0)
        ("n1", "general-ng", "t3.medium", "ON_DEMAND", 0, 10),
        ("n2", "general-ng", "t3.large", "ON_DEMAND", 0, 30),
        ("n3", "jobs-ng", "m5.large", "SPOT", 0, 4),
        ("n4", "jobs-ng", "m5.large", "ON_DEMAND", 0, 4),
        ("n5", "system-ng", "t3.small", "ON_DEMAND", 5, 5),
    ]
    return pd.DataFrame(
        {
            "node": [r[0] for r in rows],
            "node_group": [r[1] for r in rows],
            "instance_type": [r[2] for r in rows],
            "capacity_type": [r[3] for r in rows],
            "first_seen": [t0 + pd.Timedelta(hours=r[4]) for r in rows],
            "last_seen": [t0 + pd.Timedelta(hours=r[5]) for r in rows],
        }
    )


def test_node_group_unit_prices_are_node_hour_weighted() -> None:
    groups = node_group_unit_prices(_nodes(), CATALOG)
    assert set(groups) == {"general-ng", "jobs-ng", "system-ng"}
    medium = CATALOG.unit_prices("t3.medium")
    large = CATALOG.unit_prices("t3.large")
    # 10 node-hours of t3.medium and 30 of t3.large.
    expected_cpu = (10 * medium.cpu_core_hour_usd + 30 * large.cpu_core_hour_usd) / 40
    assert groups["general-ng"].cpu_core_hour_usd == pytest.approx(expected_cpu)
    spot = CATALOG.unit_prices("m5.large", "SPOT")
    on_demand = CATALOG.unit_prices("m5.large", "ON_DEMAND")
    assert groups["jobs-ng"].memory_gib_hour_usd == pytest.approx(
        (spot.memory_gib_hour_usd + on_demand.memory_gib_hour_usd) / 2
    )
    # Seen at one instant only: still priced (equal weights), not divided by zero.
    assert groups["system-ng"] == CATALOG.unit_prices("t3.small")


def test_price_nodes_counts_one_step_per_node() -> None:
    priced = price_nodes(_nodes(), CATALOG, step_seconds=3600)
    row = priced.set_index("node").loc["n1"]
    assert row["hours"] == pytest.approx(11)
    assert row["cost_usd"] == pytest.approx(11 * 0.0416)
    assert priced.set_index("node").loc["n5", "hours"] == pytest.approx(1)


def test_unknown_type_in_nodes_is_a_user_error() -> None:
    nodes = _nodes()
    nodes.loc[0, "instance_type"] = "x99.mega"
    with pytest.raises(UserInputError, match=r"x99\.mega"):
        node_group_unit_prices(nodes, CATALOG)


def test_empty_catalog_type_checks() -> None:
    empty = PriceCatalog(region="us-east-1", as_of="2026-01-01", source="aws")
    assert empty.instance_types() == []
    with pytest.raises(UserInputError, match="check the region"):
        empty.price("t3.medium")
