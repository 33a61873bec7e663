"""kianax-capacity: what an EKS platform's capacity costs, how much is used, and what to change.

In a notebook::

    import kianax_capacity as kc
    snap = kc.load_snapshot("snapshots/latest")
    recs = kc.recommend(snap)
"""

from __future__ import annotations

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
    "load_recommendations",
    "load_snapshot",
    "write_snapshot",
]
