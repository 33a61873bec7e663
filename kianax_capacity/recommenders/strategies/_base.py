"""The shape every right-sizing strategy shares: its input, settings, registry and helpers.

A strategy turns :class:`UsageData` (usage samples already joined to their owning workload, and
the current requests/limits) into one row of *raw* numbers per container (``compute``), then
applies its minimums and rounding (``finalize``). Keeping the two apart lets tests check the
math (scaling, monotonicity) on the raw numbers, before rounding blurs them. On an
aggregate-shape snapshot (server-side per-pod statistics, no samples) the same strategy makes
its raw numbers from :class:`ContainerStatistics` instead (``compute_from_statistics``), or
returns None when it needs the samples; ``finalize`` is the same for both.

Every ``compute`` returns a DataFrame indexed by CONTAINER_KEY with the float columns
``cpu_request``, ``cpu_limit``, ``memory_request``, ``memory_limit`` (NaN = leave unset), optional
``ev_*`` evidence columns (copied into the row's ``evidence`` without the prefix), and optional
``leak`` (bool) and ``note`` (a sentence added to the row's reason).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from kianax_capacity.errors import UserInputError
from kianax_capacity.model import PROFILES
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import MIB

__all__ = [
    "BATCH_KINDS",
    "PERCENTILES",
    "RAW_COLUMNS",
    "ContainerStatistics",
    "RightsizingStrategy",
    "StrategySettings",
    "UsageData",
    "available_strategies",
    "describe_settings",
    "get_strategy",
    "register_strategy",
    "round_up_steps",
    "setting",
]

#: Workload kinds that run to completion; their usage is bursty by design.
BATCH_KINDS = frozenset({"CronJob", "Job"})
RAW_COLUMNS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
#: Percentiles the aggregate fetch computes per pod (container_stats columns ``*_p50`` ...).
PERCENTILES = (50, 90, 95, 99)


def setting(default: Any, description: str) -> Any:
    """A dataclass field with a default and a description people (and ``--help``) can read."""
    from dataclasses import field

    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class StrategySettings:
    """Settings every strategy has: when there is too little history to say anything."""

    min_samples: int = setting(
        12, "fewer non-empty CPU or memory samples than this: insufficient_data"
    )
    min_history_hours: float = setting(
        24.0, "first to last sample shorter than this (services only): insufficient_data"
    )


def describe_settings(settings: StrategySettings) -> dict[str, tuple[Any, str]]:
    """name -> (value, description) for every setting, for docs and ``--help``."""
    return {
        f.name: (getattr(settings, f.name), str(f.metadata.get("description", "")))
        for f in fields(settings)
    }


@dataclass(frozen=True)
class UsageData:
    """What a strategy reads: usage keyed by integer ids, the current spec, OOM kills, the window.

    Grouping millions of samples by four string columns is the slow part of right-sizing, so
    samples carry two integer ids instead: ``cid`` (the container, a row of ``containers``) and
    ``pid`` (one pod's copy of it). Strategies group by those and turn their cid-indexed results
    back into CONTAINER_KEY rows with :meth:`keyed`.

    Attributes:
        usage: one row per sample: t (UTC epoch seconds), cid, pid, cpu_cores, memory_bytes,
            cpu_throttled_ratio.
        containers: CONTAINER_KEY of each cid (position = cid).
        inventory: indexed by CONTAINER_KEY: cpu_request_cores, cpu_limit_cores,
            memory_request_bytes, memory_limit_bytes, oom_kills, containers_in_pod.
        oom_events: one row per OOM kill: t, cid, pid.
        window_end: the end of the observed window (the "now" of decay weights), epoch seconds.
        step_seconds: the sampling step of ``usage``.
        window_start: the start of the observed window, epoch seconds (None: unknown); a
            pod whose first sample is later than one step after it started in the window.
        restart_events: one row per restart of a container inside its pod (any reason; the
            snapshot's ``terminations``): t, cid, pid; None = not known.
        jvm: JVM memory samples where scraped (Micrometer, snapshot table ``jvm_memory``):
            t, cid, heap (bool: area heap, else non-heap), used_bytes, max_bytes; None = none.
    """

    usage: pd.DataFrame
    containers: pd.MultiIndex
    inventory: pd.DataFrame
    oom_events: pd.DataFrame
    window_end: int
    step_seconds: int
    window_start: int | None = None
    jvm: pd.DataFrame | None = None
    restart_events: pd.DataFrame | None = None

    def keyed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A cid-indexed frame re-indexed by CONTAINER_KEY (every container, NaN where absent)."""
        out = frame.reindex(pd.RangeIndex(len(self.containers)))
        out.index = self.containers
        return out

    def inventory_by_cid(self) -> pd.DataFrame:
        """``inventory`` in cid order, indexed by cid."""
        out = self.inventory.reindex(self.containers)
        out.index = pd.RangeIndex(len(self.containers), name="cid")
        return out


@dataclass(frozen=True)
class ContainerStatistics:
    """What a strategy reads on an aggregate-shape snapshot: per-pod statistics, pooled.

    Built by :func:`~kianax_capacity.recommenders.aggregate.aggregate_inputs`; every frame is
    indexed by cid (a row of ``data.containers``) and holds only containers with statistics.

    Attributes:
        snapshot: the aggregate snapshot (for the optional tables a strategy reads itself:
            ``container_season_stats``, ``container_daily_stats``, ``memory_peaks``).
        data: ``prepare_usage(snapshot)`` with every inventory container as a cid (no usage).
        pooled: the evidence columns (see
            :func:`~kianax_capacity.recommenders.aggregate.pooled_container_stats`), including
            ``rows`` (steps seen, all pods) and ``history_hours``.
        busiest: per statistic the busiest pod's value (``cpu_cores_p95`` ...), the pods pooled
            (``cpu_cores_pooled_p95`` ...), the throttle-adjusted CPU (``cpu_adj_*``),
            ``throttled_ratio_max`` and KRR's all-pods columns (``*_all_pods``).
        inventory: ``data``'s inventory in the same cid order.
    """

    snapshot: Snapshot
    data: UsageData
    pooled: pd.DataFrame
    busiest: pd.DataFrame
    inventory: pd.DataFrame

    @property
    def index(self) -> pd.Index:
        """The cids with statistics."""
        return self.busiest.index

    def raw_frame(self) -> pd.DataFrame:
        """An all-NaN raw recommendation over :attr:`index`, for a strategy to fill."""
        return pd.DataFrame(index=self.index, columns=list(RAW_COLUMNS), dtype="float64")

    @staticmethod
    def column_for(prefix: str, percentile: float) -> str:
        """The statistic column at or above ``percentile`` (``max`` above p99)."""
        for p in PERCENTILES:
            if percentile <= p:
                return f"{prefix}_p{p}"
        return f"{prefix}_max"

    @staticmethod
    def pooled_column(column: str) -> str:
        """The pooled-over-pods column of a percentile column (the max stays the max)."""
        prefix, _, label = column.rpartition("_")
        return f"{prefix}_pooled_{label}" if label.startswith("p") else column


S = TypeVar("S", bound=StrategySettings)


class RightsizingStrategy(ABC):
    """A named right-sizing method with typed settings chosen by a profile."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_type: ClassVar[type[StrategySettings]] = StrategySettings
    #: profile -> overrides of the settings' defaults
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(self, settings: StrategySettings | None = None) -> None:
        self.settings = settings if settings is not None else self.settings_type()

    @classmethod
    def for_profile(cls, profile: str) -> RightsizingStrategy:
        """The strategy with the settings that ``profile`` asks for."""
        if profile not in PROFILES:
            raise UserInputError(
                f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}"
            )
        return cls(replace(cls.settings_type(), **dict(cls.profiles.get(profile, {}))))

    @abstractmethod
    def compute(self, data: UsageData) -> pd.DataFrame:
        """Raw recommendations (no minimums, no rounding) indexed by CONTAINER_KEY."""

    def compute_from_statistics(self, stats: ContainerStatistics) -> pd.DataFrame | None:
        """Raw recommendations from server-side per-pod statistics (aggregate shape).

        Returns:
            A frame indexed by cid like ``stats.index`` with :meth:`compute`'s columns, or None
            when this strategy needs usage samples (the default): its rows then say so.
        """
        return None

    @abstractmethod
    def finalize(self, raw: pd.DataFrame, data: UsageData) -> pd.DataFrame:
        """``raw`` with minimums and rounding applied (same index and columns)."""


_REGISTRY: dict[str, type[RightsizingStrategy]] = {}

T = TypeVar("T", bound=type[RightsizingStrategy])


def register_strategy(name: str) -> Callable[[T], T]:
    """Class decorator: make a strategy available under ``name``.

    Example:
        >>> @register_strategy("my-strategy")  # doctest: +SKIP
        ... class Mine(RightsizingStrategy): ...
    """

    def decorate(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"right-sizing strategy {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def get_strategy(name: str) -> type[RightsizingStrategy]:
    """The strategy class registered as ``name``.

    Raises:
        UserInputError: no such strategy; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UserInputError(
            f"unknown right-sizing strategy {name!r}; choose one of {', '.join(available_strategies())}"
        ) from None


def available_strategies() -> tuple[str, ...]:
    """Names of the registered strategies, sorted."""
    return tuple(sorted(_REGISTRY))


# --- helpers shared by strategies -------------------------------------------------------------


def empty_raw(data: UsageData) -> pd.DataFrame:
    """A raw-recommendation frame of NaNs for every container (there was no usage at all)."""
    return data.keyed(pd.DataFrame({c: pd.Series(dtype="float64") for c in RAW_COLUMNS}))


def round_up_steps(
    values: pd.Series, thresholds: tuple[tuple[float, float], ...], last_step: float
) -> pd.Series:
    """Round each value up to a multiple of a step that depends on its size.

    ``thresholds`` is ``((below, step), ...)`` in increasing ``below``; values at or above the last
    ``below`` use ``last_step``. NaN stays NaN.
    """
    array = values.to_numpy(dtype="float64")
    steps = np.full(array.shape, last_step)
    for below, step in reversed(thresholds):
        steps = np.where(array < below, step, steps)
    # round() first so 0.1 / 0.005 == 20.000000000000004 does not become 21 steps.
    # ...and after, so 95 x 0.01 is 0.95, not 0.9500000000000001.
    rounded = np.round(np.ceil(np.round(array / steps, 9)) * steps, 9)
    return pd.Series(rounded, index=values.index)


def memory_steps_mib() -> tuple[tuple[tuple[float, float], ...], float]:
    """Friendly memory rounding: 4 MiB under 256 MiB, 16 MiB under 1 GiB, 64 MiB above."""
    return ((256 * MIB, 4 * MIB), (1024 * MIB, 16 * MIB)), 64 * MIB


def is_batch(index: pd.Index) -> np.ndarray:
    """True where the container belongs to a CronJob or Job."""
    return np.asarray(index.get_level_values("kind").isin(list(BATCH_KINDS)))
