"""kianax-capacity: what an EKS platform's capacity costs, how much is used, and what to change.

In a notebook::

    import kianax_capacity as kc
    snap = kc.load_snapshot("snapshots/latest")      # or kc.demo_snapshot(days=14)
    recs = kc.recommend(snap, strategy="kianax")     # a RecommendationSet; renders as a table
    recs.frame("hpa")                                # any section as a DataFrame
    kc.plot_requests(snap, recs)                     # also plot_costs, plot_usage, plot_hpa,
                                                     # plot_packing, plot_forecast: one figure each
    kc.diff(last_week, recs).changes                 # what moved since another set

Everything a notebook needs is here; the submodules are for the CLI and for extending the tool.
Heavy parts (plotly charts, the Prometheus client, the recommenders) load on first use, so
``import kianax_capacity`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kianax_capacity.config import Config, load_config
from kianax_capacity.errors import (
    AwsError,
    ConfigError,
    GitHubError,
    KianaxCapacityError,
    NotebookError,
    OutputError,
    PrometheusError,
    RecommendationFileError,
    ReportLockedError,
    SnapshotError,
    SourceError,
    UserInputError,
)
from kianax_capacity.recommendations import (
    SECTIONS,
    RecommendationSet,
    load_recommendations,
)
from kianax_capacity.snapshot import Snapshot, load_snapshot, write_snapshot

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from kianax_capacity.outputs.diff import DiffThresholds, RecommendationDiff
    from kianax_capacity.prices.catalog import PriceCatalog
    from kianax_capacity.recommenders.commitments import EffectiveRate

__version__ = "0.1.0"

__all__ = [
    "SECTIONS",
    "AwsError",
    "Config",
    "ConfigError",
    "GitHubError",
    "KianaxCapacityError",
    "NotebookError",
    "OutputError",
    "PrometheusError",
    "RecommendationFileError",
    "RecommendationSet",
    "ReportLockedError",
    "Snapshot",
    "SnapshotError",
    "SourceError",
    "UserInputError",
    "__version__",
    "demo_snapshot",
    "diff",
    "fetch_prometheus_snapshot",
    "load_config",
    "load_recommendations",
    "load_snapshot",
    "plot_costs",
    "plot_forecast",
    "plot_hpa",
    "plot_packing",
    "plot_requests",
    "plot_usage",
    "recommend",
    "write_snapshot",
]

# Charts import plotly (slow to import); they load on first use so `import kianax_capacity`
# stays quick for the CLI.
_PLOTS = frozenset(
    ("plot_costs", "plot_forecast", "plot_hpa", "plot_packing", "plot_requests", "plot_usage")
)
_LAZY = _PLOTS | {"fetch_prometheus_snapshot"}


def recommend(
    snapshot: Snapshot,
    config: Config | None = None,
    *,
    catalog: PriceCatalog | None = None,
    generated_at: datetime | None = None,
    strategy: str | None = None,
    profile: str | None = None,
    effective_rates: Mapping[str, EffectiveRate] | None = None,
) -> RecommendationSet:
    """Every recommendation for a snapshot: right-sizing, HPA, spot, node groups, forecast, costs.

    Args:
        snapshot: what was observed (:func:`load_snapshot`, :func:`demo_snapshot`).
        config: cluster settings (:func:`load_config`); the defaults when None.
        catalog: prices and instance specs; the embedded, dated catalog of the configured
            region when None.
        generated_at: the time stamped on the set; the snapshot's creation time when None, so
            one snapshot always gives the same set.
        strategy: right-sizing strategy (``kianax``, ``krr-simple``, ``vpa``), overriding config.
        profile: ``production``, ``development`` or ``high-availability``, overriding config.
        effective_rates: billed rates per node group (from a CUR export, see
            ``kianax_capacity.recommenders.commitments.effective_rates``), priced beside list.
    """
    from kianax_capacity.recommenders.engine import recommend as _recommend

    return _recommend(
        snapshot,
        config,
        catalog=catalog,
        generated_at=generated_at,
        strategy=strategy,
        profile=profile,
        effective_rates=effective_rates,
    )


def diff(
    old: RecommendationSet, new: RecommendationSet, thresholds: DiffThresholds | None = None
) -> RecommendationDiff:
    """Rows added, removed and changed from ``old`` to ``new`` (the PR comment's content)."""
    from kianax_capacity.outputs.diff import diff_recommendations

    return diff_recommendations(old, new, thresholds)


def demo_snapshot(days: float = 21, scale: int = 1) -> Snapshot:
    """The embedded demo cluster over ``days`` (no server, no credentials)."""
    from kianax_capacity.sources.demo import generate_demo_snapshot

    return generate_demo_snapshot(days=days, scale=scale)


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from kianax_capacity.outputs import plots

        return getattr(plots, name)
    if name == "fetch_prometheus_snapshot":
        from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot

        return fetch_prometheus_snapshot
    raise AttributeError(f"module 'kianax_capacity' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
