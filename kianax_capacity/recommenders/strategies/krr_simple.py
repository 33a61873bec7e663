"""``krr-simple``: the reference baseline, KRR's default "simple" strategy.

CPU request = the highest, over the container's pods, of each pod's p95 CPU rate; no CPU limit.
Memory request = limit = the highest working set seen, plus 15%. Minimums 10m and 100Mi.
Values are rounded up to a whole millicore and a whole MiB (KRR prints them that way).
Both are per-pod statistics, so from server-side statistics (aggregate shape) the answer is
exact: :meth:`KrrSimpleStrategy.compute_from_statistics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import (
    ContainerStatistics,
    RightsizingStrategy,
    StrategySettings,
    UsageData,
    empty_raw,
    register_strategy,
    round_up_steps,
    setting,
)
from kianax_capacity.units import MIB

__all__ = ["KrrSimpleSettings", "KrrSimpleStrategy"]


@dataclass(frozen=True)
class KrrSimpleSettings(StrategySettings):
    """KRR simple strategy settings (KRR's defaults)."""

    cpu_percentile: float = setting(95.0, "percentile of each pod's CPU rate; the busiest pod wins")
    memory_buffer_percentage: float = setting(15.0, "added to the peak working set, in percent")
    cpu_min_cores: float = setting(0.010, "smallest CPU request recommended (cores)")
    memory_min_bytes: float = setting(
        100 * MIB, "smallest memory request/limit recommended (bytes)"
    )


@register_strategy("krr-simple")
class KrrSimpleStrategy(RightsizingStrategy):
    """KRR's default: busiest pod's p95 CPU, peak memory + 15%, no CPU limit."""

    description = "KRR default: max over pods of p95 CPU, no CPU limit; memory = peak x 1.15"
    settings_type = KrrSimpleSettings
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}  # KRR has one behaviour

    def compute(self, data: UsageData) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, KrrSimpleSettings)
        usage = data.usage
        if usage.empty:
            return empty_raw(data)
        per_pod = usage.groupby(["cid", "pid"])["cpu_cores"].quantile(
            settings.cpu_percentile / 100.0
        )
        cpu = per_pod.groupby(level="cid").max()
        peak = usage.groupby("cid")["memory_bytes"].max()
        memory = peak * (1.0 + settings.memory_buffer_percentage / 100.0)
        raw = pd.DataFrame({"cpu_request": cpu, "memory_request": memory})
        raw["cpu_limit"] = np.nan
        raw["memory_limit"] = raw["memory_request"]
        raw["ev_cpu_busiest_pod_percentile_cores"] = raw["cpu_request"]
        raw["ev_memory_peak_bytes"] = peak
        return data.keyed(raw)

    def compute_from_statistics(self, stats: ContainerStatistics) -> pd.DataFrame:
        """The same rule on the per-pod statistics: the busiest pod's p95 (of every pod, however
        short-lived), the peak of every pod x 1.15."""
        settings = self.settings
        assert isinstance(settings, KrrSimpleSettings)
        busiest = stats.busiest
        raw = stats.raw_frame()
        if settings.cpu_percentile != 95.0:
            raw["cpu_request"] = busiest[stats.column_for("cpu_cores", settings.cpu_percentile)]
        else:
            raw["cpu_request"] = busiest["cpu_cores_p95_all_pods"]
        peak = busiest["memory_bytes_max_all_pods"]
        raw["memory_request"] = peak * (1.0 + settings.memory_buffer_percentage / 100.0)
        raw["cpu_limit"] = np.nan
        raw["memory_limit"] = raw["memory_request"]
        raw["ev_cpu_busiest_pod_percentile_cores"] = raw["cpu_request"]
        raw["ev_memory_peak_bytes"] = peak
        return raw

    def finalize(self, raw: pd.DataFrame, data: UsageData) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, KrrSimpleSettings)
        out = raw.copy()
        out["cpu_request"] = round_up_steps(
            out["cpu_request"].clip(lower=settings.cpu_min_cores), (), 0.001
        )
        memory = round_up_steps(
            out["memory_request"].clip(lower=settings.memory_min_bytes), (), MIB
        )
        out["memory_request"] = memory
        out["memory_limit"] = memory
        return out
