"""``kianax-capacity demo-data``: export the demo cluster as OpenMetrics or a snapshot."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from kianax_capacity.cli._common import parse_end, progress_from_args
from kianax_capacity.errors import OutputError, UserInputError
from kianax_capacity.units import parse_duration

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="export the embedded demo cluster (OpenMetrics for Prometheus/VictoriaMetrics)",
        description="Write the simulated Kianax cluster with the standard cAdvisor and "
        "kube-state-metrics metric names, for promtool backfill or VictoriaMetrics import.",
    )
    parser.add_argument(
        "--format",
        choices=("openmetrics", "prometheus-text"),
        default="openmetrics",
        help="openmetrics (promtool, second timestamps) or prometheus-text (VictoriaMetrics import, ms timestamps)",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="file to write")
    parser.add_argument("--days", default="21", metavar="N", help="days of history (default 21)")
    parser.add_argument(
        "--end", default=None, metavar="ISO8601", help="window end (default 2026-11-23T00:00:00Z)"
    )
    parser.add_argument("--step", default="5m", metavar="DURATION", help="sample step (default 5m)")
    parser.add_argument(
        "--scale", type=int, default=1, metavar="N", help="multiply the application workloads by N"
    )
    parser.add_argument(
        "--cluster",
        default=None,
        help="kianax-production (default) or kianax-dev; the value of every series' cluster label",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kianax_capacity.sources.openmetrics import write_demo_openmetrics

    try:
        days = float(args.days)
    except ValueError as exc:
        raise UserInputError(f"--days {args.days!r} is not a number") from exc
    if days <= 0 or args.scale < 1:
        raise UserInputError("--days must be positive and --scale at least 1")
    if args.out.is_dir():
        raise OutputError(f"{args.out} is a folder; give a file path for --out")
    step = int(parse_duration(args.step))
    with progress_from_args(args).task(f"writing {args.out}"):
        try:
            stats = write_demo_openmetrics(
                args.out,
                end=parse_end(args.end),
                days=days,
                step_seconds=step,
                scale=args.scale,
                millis=args.format == "prometheus-text",
                cluster=args.cluster,
            )
        except OSError as exc:
            raise OutputError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    log.info(
        "wrote %s: %s series, %s samples, %.1f MB",
        args.out,
        f"{stats.series:,}",
        f"{stats.samples:,}",
        stats.bytes / 1e6,
    )
    return 0
