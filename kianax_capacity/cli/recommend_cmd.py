"""``kianax-capacity recommend``: a snapshot in, ``recommendations.json`` out."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kianax_capacity.cli._common import config_from_args, progress_from_args
from kianax_capacity.cli._prices import load_catalog
from kianax_capacity.config import Config
from kianax_capacity.errors import UserInputError
from kianax_capacity.model import PROFILES
from kianax_capacity.outputs.terminal import TerminalFormat
from kianax_capacity.snapshot import load_snapshot

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "recommend",
        help="compute recommendations from a snapshot into recommendations.json",
        description="Right-sizing, HPA, spot, node-group and forecast recommendations, each with "
        "dollars, risk and a reason, written as recommendations.json (schema v1).",
    )
    parser.add_argument(
        "snapshot", type=Path, metavar="SNAPSHOT", help="snapshot folder (from fetch)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("recommendations.json"),
        metavar="FILE",
        help="output file (default recommendations.json)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "yaml", "csv"),
        default=None,
        help="also print the recommendations: table (default on a terminal), json, yaml or csv "
        "(right-sizing rows); the --out file is JSON whatever this says",
    )
    parser.add_argument(
        "--strategy", default=None, help="right-sizing strategy (default from config: kianax)"
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="production (default), development or high-availability",
    )
    add_price_arguments(parser)
    parser.add_argument(
        "--billed-cur",
        metavar="S3_MANIFEST",
        default=None,
        help="CUR 2.0 / Data Exports manifest (s3://.../manifest.json) whose amortized lines price "
        "node-hours at the effective rate beside list (default from config: [aws] cur_manifest)",
    )
    parser.set_defaults(func=run)


def add_price_arguments(parser: argparse.ArgumentParser) -> None:
    """--prices and --region, shared by ``recommend`` and ``report``."""
    parser.add_argument(
        "--prices",
        choices=("embedded", "aws"),
        default=None,
        help="embedded (offline, dated, default) or aws (Pricing API and spot history through boto3)",
    )
    parser.add_argument(
        "--region", default=None, help="AWS region to price (default from config: us-east-1)"
    )


def config_with_prices(args: argparse.Namespace) -> Config:
    config = config_from_args(args)
    aws = replace(
        config.aws,
        **{
            k: v for k, v in {"prices": args.prices, "region": args.region}.items() if v is not None
        },
    )
    return replace(config, aws=aws)


def fleet_snapshots(folder: Path) -> list[Path]:
    """The cluster folders of a fleet snapshot (``fetch`` with several clusters); [] otherwise."""
    if (folder / "manifest.json").is_file() or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "manifest.json").is_file())


def run(args: argparse.Namespace) -> int:
    clusters = fleet_snapshots(args.snapshot)
    if not clusters:
        return _run_one(args, args.snapshot, args.out)
    # A fleet: OUT/<cluster>/recommendations.json, the layout of the report's week folders.
    out = Path("recommendations") if args.out == Path("recommendations.json") else args.out
    if out.is_file():
        raise UserInputError(
            f"--out {out} is a file; a fleet snapshot needs a folder (OUT/<cluster>/recommendations.json)"
        )
    for folder in clusters:
        (out / folder.name).mkdir(parents=True, exist_ok=True)
        _run_one(args, folder, out / folder.name / "recommendations.json")
    return 0


def _run_one(args: argparse.Namespace, snapshot_dir: Path, out: Path) -> int:
    from kianax_capacity.cli._fleet import cluster_profile
    from kianax_capacity.recommenders.engine import recommend

    config = config_with_prices(args)
    progress = progress_from_args(args)
    with progress.task(f"loading {snapshot_dir}"):
        snapshot = load_snapshot(snapshot_dir)
    profile = cluster_profile(config, snapshot.cluster, snapshot.manifest.source, args.profile)
    config = config.for_cluster(snapshot.cluster)
    manifest = args.billed_cur or config.aws.cur_manifest
    rates = None
    if manifest:
        # Billed data is the user's own S3 export: read only when they named it.
        from kianax_capacity.recommenders.commitments import effective_rates
        from kianax_capacity.sources.aws_costs import cur_node_rates

        with progress.task("reading billed node-hour rates (CUR)"):
            rates = effective_rates(
                cur_node_rates(manifest, snapshot.cluster, region=config.aws.region)
            )
    with progress.task("recommending"):
        recommendations = recommend(
            snapshot,
            config,
            effective_rates=rates,
            catalog=load_catalog(config, snapshot),
            generated_at=datetime.now(UTC).replace(microsecond=0),
            strategy=args.strategy,
            profile=profile,
        )
    recommendations.write(out)
    fmt = args.format or ("table" if sys.stdout.isatty() else None)
    if fmt is not None:
        from kianax_capacity.outputs.terminal import render_recommendations

        sys.stdout.write(render_recommendations(recommendations, cast(TerminalFormat, fmt)))
    log.info(
        "wrote %s: %d right-sizing, %d HPA, %d spot, %d node-group, %d forecast rows",
        out,
        len(recommendations.rightsizing),
        len(recommendations.hpa),
        len(recommendations.spot),
        len(recommendations.nodegroups),
        len(recommendations.forecast),
    )
    return 0
