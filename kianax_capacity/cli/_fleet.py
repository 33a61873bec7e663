"""Several clusters in one run: which clusters a command reads, and each one's settings.

A run is a *fleet* run when ``--cluster`` is given more than once, or not at all while the
config declares ``[clusters.NAME]`` tables; then every cluster gets its own snapshot folder
(``OUT/<cluster>/``), recommendations and report. One ``--cluster NAME`` (or none, without
``[clusters]``) is the single-cluster run of old, with NAME's table applied when it has one.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from kianax_capacity.config import Config, PrometheusConfig
from kianax_capacity.errors import UserInputError

__all__ = [
    "cluster_profile",
    "cluster_prometheus",
    "fleet_clusters",
    "for_cluster",
    "single_cluster",
]


def _given(args: argparse.Namespace) -> list[str]:
    value = getattr(args, "cluster", None)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def single_cluster(args: argparse.Namespace) -> str | None:
    """The one ``--cluster`` of a single-cluster run (None when not given)."""
    given = _given(args)
    return given[0] if len(given) == 1 else None


def fleet_clusters(args: argparse.Namespace, config: Config) -> list[str] | None:
    """The clusters of a fleet run, in order; None for a single-cluster run."""
    given = _given(args)
    if len(given) == 1:
        return None
    if not given:
        return list(config.clusters) or None
    repeated = sorted({name for name in given if given.count(name) > 1})
    if repeated:
        raise UserInputError(f"--cluster {repeated[0]} is given twice")
    if "fleet" in given:
        raise UserInputError(
            "--cluster fleet: 'fleet' is the folder of the fleet pages; rename the cluster",
        )
    return given


def for_cluster(args: argparse.Namespace, name: str) -> argparse.Namespace:
    """A copy of the arguments as a single-cluster run of ``name``."""
    return argparse.Namespace(**{**vars(args), "cluster": [name], "fleet_run": True})


def cluster_prometheus(config: Config, name: str, *, fleet: bool) -> PrometheusConfig:
    """``[prometheus]`` with ``[clusters.NAME]``'s URL and cluster label on top.

    In a fleet run a top-level ``cluster_value`` cannot stand for every cluster: each one
    selects its own value (its table's ``cluster_value``, else its name).
    """
    prometheus = config.prometheus
    spec = config.clusters.get(name)
    if fleet:
        prometheus = replace(prometheus, cluster_value=None)
    if spec is None:
        return prometheus
    return replace(
        prometheus,
        url=spec.prometheus_url or prometheus.url,
        cluster_label=spec.cluster_label or prometheus.cluster_label,
        cluster_value=spec.cluster_value or prometheus.cluster_value,
    )


def cluster_profile(config: Config, cluster: str, source: str, flag: str | None) -> str:
    """The profile to recommend a cluster with.

    ``--profile`` first, then ``[clusters.NAME] profile``, then (demo snapshots) the demo
    cluster's own (``kianax-dev`` is a development cluster), then the top-level ``profile``.
    """
    if flag:
        return flag
    spec = config.clusters.get(cluster)
    if spec is not None and spec.profile:
        return spec.profile
    if source == "demo":
        from kianax_capacity.sources.demo import DEMO_CLUSTER, DEMO_CLUSTERS

        demo = DEMO_CLUSTERS.get(cluster)
        # Production's demo keeps the top-level profile, as it always did.
        if demo is not None and demo.name != DEMO_CLUSTER:
            return demo.profile
    return config.profile
