"""kianax-capacity: what an EKS platform's capacity costs, how much is used, and what to change.

In a notebook::

    import kianax_capacity as kc
    snap = kc.load_snapshot("snapshots/latest")
    recs = kc.recommend(snap)
    kc.plot_requests(snap, recs)          # also plot_costs, plot_usage, plot_hpa, plot_packing,
                                          # plot_forecast: one call, one plotly figure
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The subpackage kianax_capacity.recommend would shadow the recommend() function below the
# first time it is imported (Python binds a submodule as an attribute of its parent); importing
# it here, before the function is defined, lets the function win for good.
import kianax_capacity.recommend as _recommend_package  # noqa: F401
from kianax_capacity.errors import (
    ConfigError,
    KianaxCapacityError,
    OutputError,
    SnapshotError,
    SourceError,
    UserInputError,
)
from kianax_capacity.recommendations import RecommendationSet, load_recommendations
from kianax_capacity.snapshot import Snapshot, load_snapshot, write_snapshot

if TYPE_CHECKING:
    from kianax_capacity.config import Config

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "KianaxCapacityError",
    "OutputError",
    "RecommendationSet",
    "Snapshot",
    "SnapshotError",
    "SourceError",
    "UserInputError",
    "__version__",
    "demo_snapshot",
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


def recommend(
    snapshot: Snapshot, config: Config | None = None, **options: Any
) -> RecommendationSet:
    """Every recommendation for a snapshot (see :func:`kianax_capacity.recommend.engine.recommend`)."""
    from kianax_capacity.recommend.engine import recommend as _recommend

    return _recommend(snapshot, config, **options)


def demo_snapshot(days: float = 21, scale: int = 1) -> Snapshot:
    """The embedded demo cluster over ``days`` (no server, no credentials)."""
    from kianax_capacity.sources.demo import generate_demo_snapshot

    return generate_demo_snapshot(days=days, scale=scale)


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from kianax_capacity.outputs import quick

        return getattr(quick, name)
    raise AttributeError(f"module 'kianax_capacity' has no attribute {name!r}")
