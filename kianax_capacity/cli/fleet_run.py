"""Fleet runs of ``fetch``: one snapshot folder per cluster under the output folder."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from kianax_capacity.cli._common import config_from_args
from kianax_capacity.cli._fleet import cluster_prometheus, for_cluster
from kianax_capacity.errors import UserInputError

log = logging.getLogger(__name__)

__all__ = ["check_fleet_sources", "fetch_fleet"]


def check_fleet_sources(args: argparse.Namespace, clusters: list[str]) -> None:
    """Refuse a fleet whose clusters would read the same series from the same server.

    Each cluster needs its own Prometheus URL or a cluster label to select its series by;
    without either, every snapshot would silently hold the same cluster.
    """
    if args.source != "prometheus":
        return
    config = config_from_args(args)
    seen: dict[str, str] = {}
    for name in clusters:
        prometheus = cluster_prometheus(config, name, fleet=True)
        url = args.prometheus_url or prometheus.url
        label = args.cluster_label or prometheus.cluster_label
        if not url:
            raise UserInputError(
                f"cluster {name}: no Prometheus URL; give --prometheus-url, [prometheus] url "
                f"or [clusters.{name}] prometheus_url"
            )
        if label is None:
            if url in seen:
                raise UserInputError(
                    f"clusters {seen[url]} and {name} read the same Prometheus {url} with no "
                    "cluster label; give --cluster-label LABEL (or [clusters.NAME] cluster_label) "
                    "or a prometheus_url per cluster"
                )
            seen[url] = name


def fetch_fleet(args: argparse.Namespace, clusters: list[str], out: Path) -> None:
    """Fetch every cluster into ``out/<cluster>/`` (each snapshot written atomically)."""
    from kianax_capacity.cli.fetch_cmd import fetch_snapshot

    check_fleet_sources(args, clusters)
    if out.exists() and (out / "manifest.json").is_file():
        raise UserInputError(
            f"--out {out} holds a single-cluster snapshot; give a new folder for several clusters"
        )
    for name in clusters:
        snapshot = fetch_snapshot(for_cluster(args, name), out / name)
        log.info(
            "wrote snapshot %s (%s, %d nodes, %d pods)",
            out / name,
            snapshot.cluster,
            snapshot.manifest.tables.get("nodes", 0),
            snapshot.manifest.tables.get("pods", 0),
        )
