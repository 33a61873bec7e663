"""Effective rates and commitments on hand-built billed rates (no AWS: the frame cur_node_rates gives)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommenders.commitments import (
    commitment_split,
    effective_monthly,
    effective_rates,
)

START = pd.Timestamp("2026-07-01", tz="UTC")
END = START + pd.Timedelta(hours=730)  # a billed period of exactly one 730-h month


def _rates(rows: list[tuple[str, str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "node_group": [r[0] for r in rows],
            "instance_type": [r[1] for r in rows],
            "line_item_type": [r[2] for r in rows],
            "purchase_option": [r[3] for r in rows],
            "usage_hours": [730.0] * len(rows),
            "public_on_demand_usd": [r[4] for r in rows],
            "amortized_usd": [r[5] for r in rows],
            "period_start": [START] * len(rows),
            "period_end": [END] * len(rows),
        }
    )


def test_a_savings_plan_follows_the_hours_a_reservation_stays_in_its_family() -> None:
    """USD 100 of m6i list under a Savings Plan (paid 72), USD 100 under an m6i RI (paid 60).

    Moving to c7i for USD 150 list: the plan still covers 100 of it, the RI covers nothing but
    is still paid: 72 + 60 + (150 - 100) = 182. Staying in m6i: 72 + 60 + (150 - 200 -> 0) = 132.
    """
    rates = effective_rates(
        _rates(
            [
                ("g", "m6i.large", "SavingsPlanCoveredUsage", "SavingsPlan", 100.0, 72.0),
                ("g", "m6i.large", "DiscountedUsage", "Reserved", 100.0, 60.0),
            ]
        )
    )
    rate = rates["g"]
    assert rate.ratio == pytest.approx(132 / 200)
    assert effective_monthly(rate, "c7i.large", 150.0, 0.0, current=False) == pytest.approx(182)
    assert effective_monthly(rate, "m6i.xlarge", 150.0, 0.0, current=False) == pytest.approx(132)
    assert effective_monthly(rate, "m6i.large", 200.0, 5.0, current=True) == pytest.approx(137)


def test_no_new_commitment_for_capacity_the_change_removes() -> None:
    """Today's plan covers USD 200 of list; the new baseline, 2 x t3.medium, is 60.74: add none."""
    rate = effective_rates(
        _rates([("g", "t3.medium", "SavingsPlanCoveredUsage", "SavingsPlan", 200.0, 144.0)])
    )["g"]
    split = commitment_split(
        "t3.medium",
        2,
        2,
        100.0,
        "ON_DEMAND",
        embedded_catalog(),
        0.28,
        existing=rate,
        node_counts=np.full(10, 2.0),
    )
    assert split["on_demand_monthly_usd"] == 0.0  # nothing new to commit
    assert split["existing_commitment_list_monthly_usd"] == pytest.approx(200.0)
    # 2 nodes x 0.0416 x 730 = 60.74 of the 200 committed at list: 30% used.
    assert split["expected_utilisation"] == pytest.approx(2 * 0.0416 * 730 / 200, abs=0.001)
    assert "add nothing" in split["note"]
