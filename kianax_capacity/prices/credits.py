"""CPU-credit reference data of EC2 burstable performance instances (T2, T3, T3a, T4g).

A burstable instance earns CPU credits at its baseline (one credit = one vCPU busy for one
minute), spends them on what it uses, and keeps at most a day's earnings. In ``unlimited`` mode
(the default of T3, T3a and T4g) what it spends beyond its balance is *surplus* credits, paid
down by later earnings and otherwise billed at a flat rate per vCPU-hour; in ``standard`` mode
(the default of T2) it is held at its baseline instead.

The figures ship in ``kianax_capacity/data/burstable-credits.csv`` with their sources and the
date they were read (see that file's header and ``data/README.md``).

Example:
    >>> spec = credit_spec("t3.medium")
    >>> (spec.credits_per_hour, spec.max_accrued_credits, spec.baseline_per_vcpu)
    (24.0, 576.0, 0.2)
    >>> credit_spec("m6i.large") is None
    True
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CREDITS_AS_OF",
    "CREDITS_SOURCE_URL",
    "CREDIT_MODES",
    "SURPLUS_PRICING_URL",
    "CreditMode",
    "CreditSpec",
    "credit_spec",
    "credit_specs",
]

CreditMode = Literal["unlimited", "standard"]
CREDIT_MODES: tuple[CreditMode, ...] = ("unlimited", "standard")
#: When the credit table and the surplus rates were read from AWS's pages.
CREDITS_AS_OF = "2026-12-06"
CREDITS_SOURCE_URL = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html"
)
SURPLUS_PRICING_URL = (
    "https://aws.amazon.com/ec2/pricing/on-demand/#T2.2FT3.2FT4g_Unlimited_Mode_Pricing"
)
_FILE = "burstable-credits.csv"


@dataclass(frozen=True)
class CreditSpec:
    """How one burstable instance type earns, keeps and bills CPU credits (Linux).

    Attributes:
        instance_type: e.g. ``t3.medium``.
        vcpu: vCPUs of the type.
        credits_per_hour: credits earned per hour (= baseline x vCPU x 60).
        max_accrued_credits: the most earned credits the balance holds (24 h of earnings).
        baseline_per_vcpu: the baseline utilisation per vCPU, 0..1.
        launch_credits: credits given at launch (T2 in standard mode only).
        default_mode: the credit mode an instance launches in unless told otherwise.
        surplus_usd_per_vcpu_hour: the unlimited-mode rate for surplus credits not paid down
            (60 surplus credits = one vCPU-hour).
    """

    instance_type: str
    vcpu: int
    credits_per_hour: float
    max_accrued_credits: float
    baseline_per_vcpu: float
    launch_credits: float
    default_mode: CreditMode
    surplus_usd_per_vcpu_hour: float

    @property
    def baseline_cores(self) -> float:
        """The node's CPU, in cores, at which it earns exactly what it spends."""
        return self.credits_per_hour / 60.0

    @property
    def surplus_usd_per_credit(self) -> float:
        return self.surplus_usd_per_vcpu_hour / 60.0


@lru_cache(maxsize=1)
def credit_specs() -> MappingProxyType[str, CreditSpec]:
    """Every burstable type of the embedded table, by instance type."""
    text = files("kianax_capacity.data").joinpath(_FILE).read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    out: dict[str, CreditSpec] = {}
    for row in rows:
        mode = row["default_mode"]
        if mode not in CREDIT_MODES:
            raise ValueError(f"{_FILE}: {row['instance_type']} has default_mode {mode!r}")
        out[row["instance_type"]] = CreditSpec(
            instance_type=row["instance_type"],
            vcpu=int(row["vcpu"]),
            credits_per_hour=float(row["credits_per_hour"]),
            max_accrued_credits=float(row["max_accrued_credits"]),
            baseline_per_vcpu=float(row["baseline_per_vcpu"]),
            launch_credits=float(row["launch_credits"]),
            default_mode="standard" if mode == "standard" else "unlimited",
            surplus_usd_per_vcpu_hour=float(row["surplus_usd_per_vcpu_hour"]),
        )
    return MappingProxyType(out)


def credit_spec(instance_type: str) -> CreditSpec | None:
    """The credit figures of ``instance_type``; None for a type that is not burstable."""
    return credit_specs().get(str(instance_type))
