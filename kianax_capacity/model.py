"""Shared domain objects in canonical units (cores, bytes, USD).

These are the small typed values that several modules exchange: an instance type's spec and
price, and the price of one core-hour and one GiB-hour of memory on a node group.
"""

from __future__ import annotations

from dataclasses import dataclass

from kianax_capacity.units import GIB, HOURS_PER_MONTH

__all__ = ["PROFILES", "InstancePrice", "InstanceSpec", "ResourcePrices", "WorkloadKey"]

#: Recommendation profiles: how much headroom and availability a cluster wants.
PROFILES = ("production", "development", "high-availability")

#: (namespace, kind, workload)
WorkloadKey = tuple[str, str, str]


@dataclass(frozen=True)
class InstanceSpec:
    """What an EC2 instance type offers a kubelet."""

    instance_type: str
    vcpu: int
    memory_bytes: int
    architecture: str  # amd64 | arm64
    max_enis: int
    ipv4_per_eni: int

    @property
    def max_pods(self) -> int:
        """Pods per node on the AWS VPC CNI without prefix delegation: ENIs x (IPs - 1) + 2."""
        return self.max_enis * (self.ipv4_per_eni - 1) + 2

    @property
    def family(self) -> str:
        return self.instance_type.split(".", 1)[0]


@dataclass(frozen=True)
class InstancePrice:
    """Hourly prices of one instance type in one region (USD)."""

    instance_type: str
    on_demand_hourly_usd: float
    spot_hourly_usd: float | None = None
    spot_savings_percent: float | None = None
    interruption_range: str | None = None  # "<5%", "5-10%", ...


@dataclass(frozen=True)
class ResourcePrices:
    """The price of one core-hour and one GiB-hour of memory on some capacity.

    Example:
        >>> ResourcePrices(0.02, 0.003).monthly_usd(cpu_cores=0.25, memory_bytes=256 * 1024**2)
        4.197...
    """

    cpu_core_hour_usd: float
    memory_gib_hour_usd: float

    def hourly_usd(self, cpu_cores: float, memory_bytes: float) -> float:
        return cpu_cores * self.cpu_core_hour_usd + memory_bytes / GIB * self.memory_gib_hour_usd

    def monthly_usd(self, cpu_cores: float, memory_bytes: float) -> float:
        return self.hourly_usd(cpu_cores, memory_bytes) * HOURS_PER_MONTH
