"""The price catalog: what an EC2 instance type offers and costs, per hour, in one region.

Two sources fill the same :class:`PriceCatalog`:

* ``embedded`` (the default, no network): the dated tables in ``kianax_capacity/data/``
  (on-demand prices from the AWS Pricing API on 2026-07-20, Spot Instance Advisor savings and
  interruption ranges as of 2025-07, specs from moto's DescribeInstanceTypes dump), us-east-1 only.
* ``aws``: live prices through boto3, see :mod:`kianax_capacity.sources.aws_prices`.

Unit prices follow OpenCost: a node's hourly price is split into a CPU core-hour and a memory
GiB-hour price that keep a fixed CPU:RAM price ratio and add back up to the node price exactly::

    vcpu * cpu_core_hour_usd + memory_gib * memory_gib_hour_usd == node_hourly_usd

The ratio is OpenCost's default price pair, 0.031611 USD per core-hour to 0.004237 USD per
GiB-hour (about 7.46 : 1). It is what OpenCost, and so Kubecost, charge when no custom pricing is
set, it sits close to the ratio implied by AWS's own general-purpose families (m-family: 4 GiB per
vCPU), and keeping the same ratio as OpenCost makes our per-workload figures comparable with
theirs.

Example:
    >>> catalog = embedded_catalog()
    >>> catalog.node_hourly_usd("t3.medium", "ON_DEMAND")
    0.0416
    >>> catalog.spec("t3.medium").max_pods
    17
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal

import pandas as pd

from kianax_capacity.errors import UserInputError
from kianax_capacity.model import InstancePrice, InstanceSpec, ResourcePrices
from kianax_capacity.units import GIB

__all__ = [
    "CAPACITY_TYPES",
    "CPU_CORE_HOUR_TO_GIB_HOUR_RATIO",
    "EKS_CONTROL_PLANE_HOURLY_USD",
    "EMBEDDED_AS_OF",
    "EMBEDDED_REGION",
    "OPENCOST_DEFAULT_CPU_CORE_HOUR_USD",
    "OPENCOST_DEFAULT_RAM_GIB_HOUR_USD",
    "SPOT_INTERRUPTION_RANGES",
    "CapacityType",
    "PriceCatalog",
    "embedded_catalog",
    "node_group_unit_prices",
    "normalize_capacity_type",
    "price_nodes",
]

logger = logging.getLogger(__name__)

#: EKS control plane, standard support, USD per cluster-hour (extended support is 0.60).
EKS_CONTROL_PLANE_HOURLY_USD = 0.10

#: OpenCost's default prices when no cloud pricing is configured; only their ratio is used.
OPENCOST_DEFAULT_CPU_CORE_HOUR_USD = 0.031611
OPENCOST_DEFAULT_RAM_GIB_HOUR_USD = 0.004237
CPU_CORE_HOUR_TO_GIB_HOUR_RATIO = (
    OPENCOST_DEFAULT_CPU_CORE_HOUR_USD / OPENCOST_DEFAULT_RAM_GIB_HOUR_USD
)

#: Spot Instance Advisor interruption-frequency ranges, by index.
SPOT_INTERRUPTION_RANGES = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")

EMBEDDED_REGION = "us-east-1"
#: Date of the embedded on-demand prices (AWS Pricing API).
EMBEDDED_AS_OF = "2026-07-20"

CapacityType = Literal["ON_DEMAND", "SPOT"]
CAPACITY_TYPES: tuple[CapacityType, ...] = ("ON_DEMAND", "SPOT")

_PRICES_FILE = "ec2-on-demand-prices-us-east-1.csv"
_SPOT_FILE = "spot-advisor-us-east-1-linux.json"
_SPECS_FILE = "instance-specs.csv"


def normalize_capacity_type(value: str) -> CapacityType:
    """``ON_DEMAND`` or ``SPOT`` from the spellings EKS and Karpenter labels use.

    Example:
        >>> normalize_capacity_type("on-demand")
        'ON_DEMAND'
    """
    text = str(value).strip().upper().replace("-", "_")
    if text == "ONDEMAND":
        text = "ON_DEMAND"
    if text == "ON_DEMAND":
        return "ON_DEMAND"
    if text == "SPOT":
        return "SPOT"
    if text in ("UNKNOWN", "", "NAN", "NONE"):
        # A node whose capacity type nobody knows (no labels, no EC2) is priced on-demand: the
        # dearer price, so no saving is claimed that spot may already have made. The snapshot
        # keeps "unknown"; doctor and the fetch's warning name the fix.
        return "ON_DEMAND"
    raise UserInputError(f"unknown capacity type {value!r}: use ON_DEMAND or SPOT")


def _frozen(mapping: Mapping[str, object]) -> MappingProxyType[str, object]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PriceCatalog:
    """Specs and hourly prices of EC2 instance types in one region (USD, Linux, shared tenancy).

    Attributes:
        region: AWS region the prices are for (or are used as an estimate for).
        as_of: date of the on-demand prices, ``YYYY-MM-DD``.
        source: ``"embedded"`` (offline tables) or ``"aws"`` (live API answers).
        specs: instance type -> spec.
        on_demand_hourly_usd: instance type -> on-demand price per hour.
        spot_hourly_usd: instance type -> observed spot price per hour (live catalogs; a
            median over zones and the window). Empty offline.
        spot_savings_percent: instance type -> Spot Advisor savings vs on-demand, percent.
        interruption_ranges: instance type -> Spot Advisor interruption range label.
        cpu_to_ram_price_ratio: core-hour price / GiB-hour price used by :meth:`unit_prices`.
        warnings: things a report should say about these prices (region fallback, gaps).
    """

    region: str
    as_of: str
    source: str
    specs: Mapping[str, InstanceSpec] = field(default_factory=dict, repr=False)
    on_demand_hourly_usd: Mapping[str, float] = field(default_factory=dict, repr=False)
    spot_hourly_usd: Mapping[str, float] = field(default_factory=dict, repr=False)
    spot_savings_percent: Mapping[str, float] = field(default_factory=dict, repr=False)
    interruption_ranges: Mapping[str, str] = field(default_factory=dict, repr=False)
    cpu_to_ram_price_ratio: float = CPU_CORE_HOUR_TO_GIB_HOUR_RATIO
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Read-only views, so a shared (cached) catalog cannot be changed by one caller.
        for name in (
            "specs",
            "on_demand_hourly_usd",
            "spot_hourly_usd",
            "spot_savings_percent",
            "interruption_ranges",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __hash__(self) -> int:
        return hash((self.region, self.as_of, self.source, len(self.on_demand_hourly_usd)))

    def _unknown(self, instance_type: str, what: str) -> UserInputError:
        hint = (
            "use `prices` aws to fetch it live" if self.source == "embedded" else "check the region"
        )
        return UserInputError(
            f"no {what} for instance type {instance_type!r} in the {self.source} price catalog "
            f"({self.region}, {self.as_of}); {hint}, "
            "or fix the instance type in kianax-capacity.toml"
        )

    def spec(self, instance_type: str) -> InstanceSpec:
        """vCPU, memory, architecture and ENI limits of ``instance_type``.

        Raises:
            UserInputError: the catalog does not know the type.
        """
        try:
            return self.specs[instance_type]
        except KeyError:
            raise self._unknown(instance_type, "spec") from None

    def price(self, instance_type: str) -> InstancePrice:
        """On-demand and spot hourly price of ``instance_type``.

        The spot price is the observed one when the catalog has it (live), otherwise the
        on-demand price x (1 - Spot Advisor savings %); None when neither is known.

        Raises:
            UserInputError: the catalog has no on-demand price for the type.
        """
        try:
            on_demand = self.on_demand_hourly_usd[instance_type]
        except KeyError:
            raise self._unknown(instance_type, "on-demand price") from None
        savings = self.spot_savings_percent.get(instance_type)
        spot = self.spot_hourly_usd.get(instance_type)
        if spot is None and savings is not None:
            spot = on_demand * (1.0 - savings / 100.0)
        if spot is not None and savings is None and on_demand > 0:
            savings = 100.0 * (1.0 - spot / on_demand)
        return InstancePrice(
            instance_type=instance_type,
            on_demand_hourly_usd=on_demand,
            spot_hourly_usd=spot,
            spot_savings_percent=savings,
            interruption_range=self.interruption_ranges.get(instance_type),
        )

    def node_hourly_usd(self, instance_type: str, capacity_type: str = "ON_DEMAND") -> float:
        """What one node of ``instance_type`` costs per hour on ``capacity_type``.

        A spot node whose type has no spot figure at all is priced on-demand: an upper bound
        that never understates the bill.
        """
        price = self.price(instance_type)
        if normalize_capacity_type(capacity_type) == "SPOT" and price.spot_hourly_usd is not None:
            return price.spot_hourly_usd
        return price.on_demand_hourly_usd

    def unit_prices(self, instance_type: str, capacity_type: str = "ON_DEMAND") -> ResourcePrices:
        """A core-hour and a GiB-hour price that add up to the node's hourly price.

        Solves ``vcpu * cpu + gib * ram = node price`` with ``cpu = ratio * ram``.

        Example:
            >>> p = embedded_catalog().unit_prices("m5.large")
            >>> round(2 * p.cpu_core_hour_usd + 8 * p.memory_gib_hour_usd, 6)
            0.096
        """
        spec = self.spec(instance_type)
        hourly = self.node_hourly_usd(instance_type, capacity_type)
        memory_gib = spec.memory_bytes / GIB
        ram = hourly / (spec.vcpu * self.cpu_to_ram_price_ratio + memory_gib)
        return ResourcePrices(
            cpu_core_hour_usd=ram * self.cpu_to_ram_price_ratio, memory_gib_hour_usd=ram
        )

    def instance_types(self) -> list[str]:
        """Instance types with both a spec and an on-demand price, sorted."""
        return sorted(set(self.specs) & set(self.on_demand_hourly_usd))

    def interruption_range(self, instance_type: str) -> str | None:
        """Spot Advisor interruption range (``"<5%"`` ... ``">20%"``), None when unknown."""
        return self.interruption_ranges.get(instance_type)


def _data_text(name: str) -> str:
    return files("kianax_capacity.data").joinpath(name).read_text(encoding="utf-8")


def load_specs_csv(text: str) -> dict[str, InstanceSpec]:
    """Parse ``instance-specs.csv`` (``#`` lines are comments)."""
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {
        row["instance_type"]: InstanceSpec(
            instance_type=row["instance_type"],
            vcpu=int(row["vcpu"]),
            memory_bytes=int(row["memory_bytes"]),
            architecture=row["architecture"],
            max_enis=int(row["max_enis"]),
            ipv4_per_eni=int(row["ipv4_per_eni"]),
        )
        for row in rows
    }


@lru_cache(maxsize=8)
def embedded_catalog(region: str = EMBEDDED_REGION) -> PriceCatalog:
    """The offline catalog built from the tables shipped in ``kianax_capacity/data``.

    The embedded prices are for us-east-1; for any other region they are used as an estimate
    (most regions cost the same or up to ~20 % more) and the catalog carries a warning saying so.
    Cached per region: repeated calls return the same object.
    """
    warnings: list[str] = []
    if region != EMBEDDED_REGION:
        message = (
            f"embedded prices are for {EMBEDDED_REGION} only; "
            f"using them as an estimate for {region} "
            "(use --prices aws for the region's own prices)"
        )
        logger.warning(message)
        warnings.append(message)
    on_demand = {
        row["instance_type"]: float(row["on_demand_usd_per_hour"])
        for row in csv.DictReader(_data_text(_PRICES_FILE).splitlines())
    }
    advisor = json.loads(_data_text(_SPOT_FILE))
    ranges: list[str] = advisor["ranges"]
    savings = {name: float(row["s"]) for name, row in advisor["instance_types"].items()}
    interruption = {name: ranges[int(row["r"])] for name, row in advisor["instance_types"].items()}
    return PriceCatalog(
        region=region,
        as_of=EMBEDDED_AS_OF,
        source="embedded",
        specs=load_specs_csv(_data_text(_SPECS_FILE)),
        on_demand_hourly_usd=on_demand,
        spot_savings_percent=savings,
        interruption_ranges=interruption,
        warnings=tuple(warnings),
    )


def price_nodes(
    nodes: pd.DataFrame, catalog: PriceCatalog, step_seconds: float = 0.0
) -> pd.DataFrame:
    """Price every node of a snapshot ``nodes`` table.

    Args:
        nodes: snapshot nodes table (node, node_group, instance_type, capacity_type, first_seen,
            last_seen, ...).
        catalog: prices to use.
        step_seconds: the snapshot step; a node seen from t0 to t1 ran ``t1 - t0 + step``.

    Returns:
        One row per node, in input order: node, node_group, instance_type, capacity_type
        (normalised), first_seen, last_seen, hours, hourly_usd, cost_usd, cpu_core_hour_usd,
        memory_gib_hour_usd.

    Raises:
        UserInputError: an instance type the catalog does not know.
    """
    columns = [
        "node",
        "node_group",
        "instance_type",
        "capacity_type",
        "first_seen",
        "last_seen",
        "hours",
        "hourly_usd",
        "cost_usd",
        "cpu_core_hour_usd",
        "memory_gib_hour_usd",
    ]
    if nodes.empty:
        return pd.DataFrame(columns=columns)
    frame = nodes[
        ["node", "node_group", "instance_type", "capacity_type", "first_seen", "last_seen"]
    ].copy()
    for column in ("node", "node_group", "instance_type", "capacity_type"):
        frame[column] = frame[column].astype("object")
    frame["node_group"] = frame["node_group"].fillna("(none)")
    frame["capacity_type"] = frame["capacity_type"].fillna("ON_DEMAND").map(normalize_capacity_type)
    seconds = (frame["last_seen"] - frame["first_seen"]).dt.total_seconds() + float(step_seconds)
    frame["hours"] = seconds.clip(lower=0.0) / 3600.0
    # Price each distinct (type, capacity) once: a cluster has thousands of nodes but few types.
    pairs = frame[["instance_type", "capacity_type"]].drop_duplicates()
    priced = []
    for instance_type, capacity_type in pairs.itertuples(index=False):
        units = catalog.unit_prices(instance_type, capacity_type)
        priced.append(
            (
                instance_type,
                capacity_type,
                catalog.node_hourly_usd(instance_type, capacity_type),
                units.cpu_core_hour_usd,
                units.memory_gib_hour_usd,
            )
        )
    prices = pd.DataFrame(
        priced,
        columns=[
            "instance_type",
            "capacity_type",
            "hourly_usd",
            "cpu_core_hour_usd",
            "memory_gib_hour_usd",
        ],
    )
    frame = frame.merge(
        prices, on=["instance_type", "capacity_type"], how="left", validate="many_to_one"
    )
    frame["cost_usd"] = frame["hours"] * frame["hourly_usd"]
    return frame[columns].reset_index(drop=True)


def node_group_unit_prices(
    nodes: pd.DataFrame, catalog: PriceCatalog, step_seconds: float = 0.0
) -> dict[str, ResourcePrices]:
    """Per node group, the node-hour-weighted core-hour and GiB-hour prices.

    A group that mixes on-demand and spot nodes (or instance types) gets the average its
    node-hours paid. Nodes without a node group are reported under ``"(none)"``.

    Example:
        >>> # nodes = snapshot.nodes
        >>> # node_group_unit_prices(nodes, embedded_catalog())["general-ng"].cpu_core_hour_usd
    """
    priced = price_nodes(nodes, catalog, step_seconds)
    if priced.empty:
        return {}
    # A group seen at a single instant has zero hours: weight its nodes equally instead.
    weights = priced["hours"].where(priced.groupby("node_group")["hours"].transform("sum") > 0, 1.0)
    priced = priced.assign(
        weight=weights,
        cpu_weighted=priced["cpu_core_hour_usd"] * weights,
        ram_weighted=priced["memory_gib_hour_usd"] * weights,
    )
    sums = priced.groupby("node_group")[["weight", "cpu_weighted", "ram_weighted"]].sum()
    return {
        str(group): ResourcePrices(
            cpu_core_hour_usd=float(row.cpu_weighted / row.weight),
            memory_gib_hour_usd=float(row.ram_weighted / row.weight),
        )
        for group, row in sums.iterrows()
    }
