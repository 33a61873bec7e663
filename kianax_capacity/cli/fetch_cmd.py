"""``kianax-capacity fetch``: read a cluster (demo or Prometheus) into a snapshot folder."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kianax_capacity.cli._common import config_from_args, parse_end, progress_from_args
from kianax_capacity.cli._fleet import cluster_prometheus, fleet_clusters, single_cluster
from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import UserInputError
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import parse_duration

log = logging.getLogger(__name__)

SOURCES = ("demo", "prometheus")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="read usage and inventory into a snapshot folder",
        description="Read a cluster's usage, inventory and events over a window into a snapshot "
        "folder (manifest.json + Parquet tables), written atomically.",
    )
    add_fetch_arguments(parser)
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="snapshot folder to write"
    )
    parser.set_defaults(func=run)


def add_fetch_arguments(parser: argparse.ArgumentParser, *, source_default: str = "demo") -> None:
    """The source and window flags, shared by ``fetch`` and ``report``."""
    parser.add_argument(
        "--source", default=source_default, help="demo (embedded, default) or prometheus"
    )
    parser.add_argument(
        "--window",
        default=None,
        metavar="DURATION",
        help="history length, e.g. 14d (demo default 21d, prometheus 14d)",
    )
    parser.add_argument(
        "--end",
        default=None,
        metavar="ISO8601",
        help="window end (demo default 2026-11-23T00:00:00Z; prometheus default now)",
    )
    parser.add_argument("--step", default="5m", metavar="DURATION", help="sample step (default 5m)")
    parser.add_argument(
        "--cluster",
        action="append",
        default=None,
        help="cluster name (default from config); repeat it for several clusters, each into "
        "a folder of its own (default: every [clusters.NAME] of the config)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        metavar="N",
        help="demo only: multiply the application workloads by N",
    )
    add_prometheus_arguments(parser)
    parser.add_argument(
        "--ec2-nodes",
        choices=("auto", "on", "off"),
        default="auto",
        help="prometheus source: ask EC2 DescribeInstances about nodes whose instance type, "
        "group or capacity type Prometheus lacks: auto (when AWS credentials are configured; a "
        "failure is a warning, default), on (a failure is an error), off",
    )


def add_prometheus_arguments(parser: argparse.ArgumentParser) -> None:
    """The Prometheus server, selector and auth flags, shared by ``fetch``, ``report`` and ``doctor``."""
    prom = parser.add_argument_group("prometheus source")
    prom.add_argument(
        "--prometheus-url",
        default=None,
        metavar="URL",
        help="Prometheus-compatible HTTP API base URL",
    )
    prom.add_argument(
        "--namespace", default=None, metavar="REGEX", help="only namespaces matching this regex"
    )
    prom.add_argument(
        "--cluster-label",
        default=None,
        metavar="LABEL",
        help="label that tells clusters apart (e.g. cluster)",
    )
    prom.add_argument(
        "--shape",
        choices=("auto", "series", "aggregate"),
        default=None,
        help="auto (default: one count query picks aggregate above "
        "--auto-shape-max-containers containers, else series), series (time series) or "
        "aggregate (server-side statistics per day)",
    )
    prom.add_argument(
        "--auto-shape-max-containers",
        type=int,
        default=None,
        metavar="N",
        help="--shape auto: the most containers (seen in the window's last hour) fetched as "
        "series (default 2000, [prometheus] auto_shape_max_containers)",
    )
    prom.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="per-day cache of the aggregate shape: settled UTC days are read from the server "
        "once (default $XDG_CACHE_HOME/kianax-capacity or ~/.cache/kianax-capacity)",
    )
    prom.add_argument(
        "--no-cache",
        action="store_true",
        default=False,
        help="neither read nor write the per-day cache",
    )
    prom.add_argument(
        "--auth",
        choices=("none", "bearer", "basic", "sigv4"),
        default=None,
        help="authentication kind",
    )
    prom.add_argument(
        "--bearer-token-env",
        default=None,
        metavar="VAR",
        help="environment variable holding the bearer token",
    )
    prom.add_argument(
        "--bearer-token-file", default=None, metavar="FILE", help="file holding the bearer token"
    )
    prom.add_argument("--basic-user", default=None, metavar="USER", help="basic-auth user")
    prom.add_argument(
        "--basic-password-env",
        default=None,
        metavar="VAR",
        help="environment variable holding the basic-auth password",
    )
    prom.add_argument(
        "--header",
        action="append",
        default=None,
        metavar="K=V",
        help="extra HTTP header (repeatable)",
    )
    prom.add_argument("--ca-bundle", default=None, metavar="FILE", help="CA bundle for TLS")
    prom.add_argument("--insecure", action="store_true", default=None, help="skip TLS verification")
    prom.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="per-request timeout"
    )


def fetch_snapshot(args: argparse.Namespace, out: Path) -> Snapshot:
    """Fetch from the source the flags name and write the snapshot to ``out``."""
    config = config_from_args(args)
    progress = progress_from_args(args)
    if args.source not in SOURCES:
        raise UserInputError(f"unknown source {args.source!r}; choose one of: {', '.join(SOURCES)}")
    step_seconds = int(parse_duration(args.step))
    if step_seconds < 1:
        raise UserInputError(f"--step {args.step!r} must be at least 1s")
    end = parse_end(args.end)
    flag_cluster = single_cluster(args)
    cluster = flag_cluster or config.cluster
    fleet = getattr(args, "fleet_run", False)
    prometheus_base = cluster_prometheus(config, cluster, fleet=fleet)
    config = config.for_cluster(cluster)
    if args.source == "demo":
        from kianax_capacity.sources.demo import DEFAULT_END, generate_demo_snapshot

        window = parse_duration(args.window or "21d")
        if args.scale < 1:
            raise UserInputError("--scale must be 1 or more")
        with progress.task("simulating the demo cluster"):
            snapshot = generate_demo_snapshot(
                end=end or DEFAULT_END,
                days=window / 86400,
                step_seconds=step_seconds,
                scale=args.scale,
                cluster=flag_cluster,
            )
        with progress.task(f"writing snapshot to {out}"):
            return snapshot.write(out, cluster=flag_cluster, created_at=datetime.now(UTC))
    window = parse_duration(args.window or "14d")
    # Now, rounded down to the step: the steps (and the days the cache keeps) then fall on the
    # same instants from one run to the next.
    end = end or _floor_to_step(datetime.now(UTC), step_seconds)
    prometheus = prometheus_config_from_args(args, prometheus_base)
    if not prometheus.url:
        raise UserInputError(
            "--source prometheus needs --prometheus-url URL (or [prometheus] url in the config)"
        )
    from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot

    return fetch_prometheus_snapshot(
        prometheus,
        start=end - timedelta(seconds=window),
        end=end,
        step_seconds=step_seconds,
        out=out,
        namespace_regex=args.namespace,
        cluster_label=prometheus.cluster_label,
        cluster=cluster,
        shape=prometheus.shape,
        progress=progress,
        ec2_nodes=getattr(args, "ec2_nodes", "auto"),
        nodegroups=config.nodegroups,
        cache_dir=_cache_dir(args, prometheus),
        auto_shape_max_containers=getattr(args, "auto_shape_max_containers", None),
    )


def _floor_to_step(moment: datetime, step_seconds: int) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step_seconds, UTC)


def _cache_dir(args: argparse.Namespace, prometheus: PrometheusConfig) -> Path | None:
    """``--cache DIR``, ``[prometheus] cache_dir`` or the user's cache folder; None with
    ``--no-cache``."""
    from kianax_capacity.sources.prometheus.cache import default_cache_dir

    if getattr(args, "no_cache", False):
        return None
    chosen = getattr(args, "cache", None) or prometheus.cache_dir
    return Path(chosen).expanduser() if chosen else default_cache_dir()


def prometheus_config_from_args(
    args: argparse.Namespace, prometheus: PrometheusConfig
) -> PrometheusConfig:
    """``[prometheus]`` from the config file with the command line's flags on top."""
    headers = dict(prometheus.headers)
    for header in args.header or []:
        name, sep, value = header.partition("=")
        if not sep or not name:
            raise UserInputError(f"--header {header!r} must look like Name=value")
        headers[name.strip()] = value
    prometheus = prometheus.__class__(
        **{
            **prometheus.__dict__,
            **{
                k: v
                for k, v in {
                    "url": args.prometheus_url,
                    "auth": args.auth,
                    "bearer_token_env": args.bearer_token_env,
                    "bearer_token_file": args.bearer_token_file,
                    "basic_user": args.basic_user,
                    "basic_password_env": args.basic_password_env,
                    "ca_bundle": args.ca_bundle,
                    "insecure_skip_verify": args.insecure,
                    "timeout_seconds": args.timeout,
                    "shape": args.shape,
                    "cluster_label": args.cluster_label,
                }.items()
                if v is not None
            },
            "headers": headers,
        }
    )
    return prometheus


def _fetch_notes(snapshot: Snapshot) -> list[str]:
    """What --shape auto chose and what the per-day cache did, from the manifest (printed
    after a successful fetch: a failed one prints its one-line error only)."""
    prom = snapshot.manifest.extra.get("prometheus") or {}
    notes = []
    auto = prom.get("shape_auto")
    if auto:
        notes.append(
            f"shape auto: {auto['containers']} containers seen in the window's last hour -> "
            f"{snapshot.manifest.shape} (aggregate above {auto['max_containers_for_series']}; "
            "--shape or --auto-shape-max-containers to choose)"
        )
    stats = prom.get("cache")
    if stats:
        from kianax_capacity.sources.prometheus.cache import cache_summary

        notes.append(f"cache {stats['directory']}: {cache_summary(stats)}")
    return notes


def run(args: argparse.Namespace) -> int:
    from kianax_capacity.sources.prometheus._memory import bound_malloc_arenas

    # Before any worker thread starts: a process-wide malloc setting (see the function).
    bound_malloc_arenas()
    clusters = fleet_clusters(args, config_from_args(args))
    if clusters is not None:
        from kianax_capacity.cli.fleet_run import fetch_fleet

        fetch_fleet(args, clusters, args.out)
        return 0
    snapshot = fetch_snapshot(args, args.out)
    for note in _fetch_notes(snapshot):
        log.info("%s", note)
    counts = ", ".join(  # from the manifest: a streamed snapshot's tables stay on disk
        f"{snapshot.manifest.tables[name]:,} {name}"
        for name in ("nodes", "pods", "usage")
        if name in snapshot.manifest.tables
    )
    log.info(
        "wrote snapshot %s (%s; %s .. %s)",
        args.out,
        counts,
        *(t.strftime("%Y-%m-%d %H:%M") for t in snapshot.window),
    )
    return 0
