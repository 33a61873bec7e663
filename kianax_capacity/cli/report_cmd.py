"""``kianax-capacity report``: fetch, recommend, run the notebooks, publish HTML (and upload)."""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kianax_capacity._optional import require_extra
from kianax_capacity.cli._common import config_from_args
from kianax_capacity.cli._fleet import cluster_profile, fleet_clusters, for_cluster, single_cluster
from kianax_capacity.cli.fetch_cmd import add_fetch_arguments, fetch_snapshot
from kianax_capacity.config import Config
from kianax_capacity.errors import OutputError, UserInputError
from kianax_capacity.model import PROFILES

if TYPE_CHECKING:
    from kianax_capacity.outputs.report import ReportResult

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="run the notebooks into a weekly HTML report",
        description="Fetch a snapshot (or read one), recommend, execute every report notebook "
        "with papermill and write reports/<cluster>/<ISO week>/ (HTML with code hidden, "
        "recommendations.json, the snapshot) atomically, plus reports/index.html.",
    )
    add_fetch_arguments(parser)
    parser.set_defaults(source="demo")
    parser.add_argument(
        "--week",
        default=None,
        metavar="YYYY-Www",
        help="ISO week of the report (default: the week of the window's end)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="reports root (default reports)",
    )
    parser.add_argument(
        "--previous",
        type=Path,
        default=None,
        metavar="FILE",
        help="recommendations.json to compare with (default: the newest earlier week in --out-dir)",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="recommendation profile (default from config)",
    )
    parser.add_argument(
        "--upload",
        default=None,
        metavar="s3://BUCKET/PREFIX",
        help="also upload the week's folder and the index to S3",
    )
    parser.add_argument(
        "--s3-endpoint-url",
        default=None,
        metavar="URL",
        help="S3 endpoint (default: AWS, or $AWS_ENDPOINT_URL_S3)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run of the same week (default 0: refuse at once)",
    )
    parser.add_argument(
        "--notebooks",
        default=None,
        metavar="NAME,...",
        help="only these notebooks (default all: weekly_report, rightsizing, hpa, spot_and_nodegroups, costs, explore)",
    )
    parser.add_argument(
        "--parallel", type=int, default=2, metavar="N", help="notebooks run at once (default 2)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_extra("report")  # before any fetch or recommend work that would be wasted
    from kianax_capacity.outputs.report import parse_week, write_top_index

    if args.previous is not None and not args.previous.is_file():
        raise UserInputError(f"--previous {args.previous}: no such file")
    if args.week is not None:
        parse_week(args.week)
    if args.parallel < 1:
        raise UserInputError("--parallel must be 1 or more")
    notebooks = None
    if args.notebooks:
        from kianax_capacity.outputs.report import NOTEBOOKS

        notebooks = [n.strip() for n in args.notebooks.split(",") if n.strip()]
        unknown = [n for n in notebooks if n not in NOTEBOOKS]
        if unknown or not notebooks:
            raise UserInputError(
                f"--notebooks: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(NOTEBOOKS)}"
            )
    upload = None
    if args.upload:
        from kianax_capacity.outputs.upload import parse_s3_url

        upload = parse_s3_url(args.upload)
    config = config_from_args(args)
    clusters = fleet_clusters(args, config)
    if clusters is None:
        result = _report_cluster(args, config, notebooks, upload)
        _log_result(result)
        return 0
    if args.previous is not None:
        raise UserInputError(
            "--previous names one cluster's file; with several clusters each compares with "
            "its own earlier week in --out-dir"
        )
    from kianax_capacity.cli.fleet_run import check_fleet_sources
    from kianax_capacity.outputs.fleet import write_fleet_page

    check_fleet_sources(args, clusters)
    results = []
    for name in clusters:
        log.info("cluster %s", name)
        results.append(_report_cluster(for_cluster(args, name), config, notebooks, upload))
        _log_result(results[-1])
    root = args.out_dir.resolve()
    pages = [write_fleet_page(root, week) for week in sorted({r.week for r in results})]
    for page in pages:
        log.info("wrote %s", page)
    write_top_index(root)
    if upload is not None:
        from kianax_capacity.outputs.upload import upload_report

        count = 0
        for index, result in enumerate(results):  # the fleet pages go up with the last week
            last = index == len(results) - 1
            count += upload_report(
                root,
                result.folder,
                upload,
                endpoint_url=args.s3_endpoint_url,
                extra_files=pages if last else (),
            )
        log.info("uploaded %d files to s3://%s/%s", count, upload.bucket, upload.prefix)
    return 0


def _log_result(result: ReportResult) -> None:
    log.info(
        "wrote %s (%d notebooks%s) in %.1f s",
        result.folder / "index.html",
        len(result.notebooks),
        f", compared with {result.previous}" if result.previous else "",
        result.seconds,
    )


def _snapshot_folder(args: argparse.Namespace, source_dir: Path) -> Path:
    """A snapshot folder given as --source: the cluster's own folder of a fleet snapshot."""
    cluster = single_cluster(args)
    if getattr(args, "fleet_run", False) and cluster is not None:
        inner = source_dir / cluster
        if not (inner / "manifest.json").is_file():
            raise UserInputError(
                f"--source {source_dir}: no snapshot of cluster {cluster} in it "
                f"({inner}/manifest.json); fetch it with --cluster {cluster}"
            )
        return inner
    return source_dir


def _report_cluster(
    args: argparse.Namespace,
    config: Config,
    notebooks: list[str] | None,
    upload: Any,
) -> ReportResult:
    """Fetch (or read), recommend and build one cluster's week."""
    from kianax_capacity.outputs.report import build_report, default_generated_at
    from kianax_capacity.recommenders.engine import recommend
    from kianax_capacity.snapshot import load_snapshot

    out_dir: Path = args.out_dir
    source_dir = Path(args.source)
    staging: Path | None = None
    previous: Path | None = args.previous
    downloaded: Path | None = None
    try:
        if args.source not in ("demo", "prometheus") and source_dir.is_dir():
            snapshot_dir = _snapshot_folder(args, source_dir)
            snapshot = load_snapshot(snapshot_dir)
            move = False
        else:
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=out_dir))
            except OSError as exc:
                raise OutputError(
                    f"cannot write under --out-dir {out_dir}: {exc.strerror or exc}; "
                    "choose a writable folder"
                ) from exc
            snapshot_dir = staging / "snapshot"
            log.info("fetching a snapshot from %s", args.source)
            snapshot = fetch_snapshot(args, snapshot_dir)
            move = True
        log.info("recommending for %s", snapshot.cluster)
        cluster_config = config.for_cluster(snapshot.cluster)
        recommendations = recommend(
            snapshot,
            cluster_config,
            generated_at=default_generated_at(),
            profile=cluster_profile(
                config, snapshot.cluster, snapshot.manifest.source, args.profile
            ),
        )
        if previous is None and upload is not None:
            previous = downloaded = _previous_from_s3(args, upload, snapshot, out_dir)
        result: ReportResult = build_report(
            snapshot,
            snapshot_dir,
            recommendations,
            out_dir,
            week=args.week,
            previous=previous,
            lock_timeout_seconds=args.lock_timeout,
            parallel=args.parallel,
            move_snapshot=move,
            notebooks=notebooks,
        )
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)
    if upload is not None and not getattr(args, "fleet_run", False):
        from kianax_capacity.outputs.upload import upload_report

        count = upload_report(out_dir, result.folder, upload, endpoint_url=args.s3_endpoint_url)
        log.info("uploaded %d files to s3://%s/%s", count, upload.bucket, upload.prefix)
    return result


def _previous_from_s3(
    args: argparse.Namespace, upload: Any, snapshot: Any, out_dir: Path
) -> Path | None:
    """Last week's recommendations from the bucket, when the local reports folder has none."""
    from kianax_capacity.outputs.report import find_previous_recommendations, window_week
    from kianax_capacity.outputs.upload import fetch_previous_recommendations

    week = args.week or window_week(snapshot.window[1])
    if find_previous_recommendations(out_dir / snapshot.cluster, week) is not None:
        return None  # the local copy wins; build_report finds it
    target = out_dir / f".previous-{snapshot.cluster}-{week}.json"
    found = fetch_previous_recommendations(
        upload, snapshot.cluster, week, target, endpoint_url=args.s3_endpoint_url
    )
    if found is not None:
        log.info("comparing with s3://%s/%s (last week)", upload.bucket, upload.prefix)
    return found
