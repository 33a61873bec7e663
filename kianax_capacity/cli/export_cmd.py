"""``kianax-capacity export``: ``recommendations.json`` as Prometheus metrics.

``--out FILE`` writes the gauges atomically (node-exporter's textfile collector reads ``*.prom``
files of its directory); ``--pushgateway URL`` replaces the cluster's group on a Pushgateway;
neither prints them. See docs/reports.md for the kube-prometheus-stack scrape setup.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from kianax_capacity import __version__
from kianax_capacity.errors import UserInputError
from kianax_capacity.recommendations import load_recommendations

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="recommendations.json as Prometheus metrics (file, textfile collector, Pushgateway)",
        description="Gauges for requests and limits (current and recommended), savings, risk, "
        "HPA settings, spot readiness, node-group costs, forecasts and the run's metadata, "
        "named kianax_capacity_*_<unit>, labelled by cluster, namespace, workload, container "
        "and nodegroup.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="recommendations.json")
    parser.add_argument(
        "--format",
        choices=("openmetrics", "prometheus"),
        default="openmetrics",
        help="OpenMetrics text (default) or the Prometheus 0.0.4 text format",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write atomically to FILE (for the textfile collector, name it *.prom)",
    )
    target.add_argument(
        "--pushgateway",
        metavar="URL",
        help="push to this Pushgateway (job kianax-capacity, grouping key cluster)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="Pushgateway request timeout (default 30)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kianax_capacity.outputs.metrics_export import (
        push_to_gateway,
        recommendation_metrics,
        render_metrics,
        write_textfile,
    )

    if args.timeout <= 0:
        raise UserInputError("must be more than 0 seconds", parameter="timeout")
    recs = load_recommendations(args.file)
    families = recommendation_metrics(recs, tool_version=__version__)
    samples = sum(len(family.samples) for family in families)
    if args.pushgateway:
        push_to_gateway(
            families, args.pushgateway, cluster=recs.cluster, timeout_seconds=args.timeout
        )
        log.info(
            "pushed %d samples of %d metrics for cluster %s", samples, len(families), recs.cluster
        )
    elif args.out:
        if args.out.suffix != ".prom":
            log.warning("%s: node-exporter's textfile collector reads only *.prom files", args.out)
        write_textfile(families, args.out, args.format)
        log.info("wrote %s: %d samples of %d metrics", args.out, samples, len(families))
    else:
        sys.stdout.buffer.write(render_metrics(families, args.format))
        sys.stdout.flush()
    return 0
