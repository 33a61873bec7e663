"""``kianax-capacity doctor``: what a Prometheus holds of what the tool reads, and the fixes.

Run it first on a real cluster. One table: every metric family and label the fetch reads
(found / missing / partial), the kube-state-metrics features it relies on, node-exporter's DMI,
duplicate kubelet endpoints, scrape intervals, the cluster label and the time one day of the
heaviest query takes; each with its consequence and the exact fix. Exit 0 when everything the
recommendations need is there, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from kianax_capacity.cli._common import config_from_args, flag_speller, parse_end
from kianax_capacity.cli.fetch_cmd import add_prometheus_arguments, prometheus_config_from_args
from kianax_capacity.errors import UserInputError, respell
from kianax_capacity.sources.prometheus.doctor import Diagnosis
from kianax_capacity.units import parse_duration

__all__ = ["register", "render_table", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check what a Prometheus holds of what the tool reads (run it first)",
        description="Probe a Prometheus-compatible server: every metric family and label the "
        "fetch reads, found / missing / partial, with the consequence for the recommendations "
        "and the exact fix. Exit 0 when everything needed is there, 1 otherwise.",
    )
    add_prometheus_arguments(parser)
    parser.add_argument("--cluster", default=None, help="the --cluster-label value to check")
    parser.add_argument(
        "--end", default=None, metavar="ISO8601", help="probe at this time (default now)"
    )
    parser.add_argument(
        "--step", default="5m", metavar="DURATION", help="the fetch's step (default 5m)"
    )
    parser.add_argument(
        "--window", default="14d", metavar="DURATION", help="the fetch's window (default 14d)"
    )
    parser.add_argument(
        "--no-timing", action="store_true", help="skip timing one day of the fetch's queries"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kianax_capacity.sources.prometheus.doctor_probe import probe_server

    config = config_from_args(args)
    prometheus = prometheus_config_from_args(args, config.prometheus)
    if not prometheus.url:
        raise UserInputError(
            "doctor needs --prometheus-url URL (or [prometheus] url in the config)"
        )
    step = int(parse_duration(args.step))
    if step < 1:
        raise UserInputError(f"--step {args.step!r} must be at least 1s")
    end = parse_end(args.end) or datetime.now(UTC).replace(microsecond=0)
    diagnosis = probe_server(
        prometheus,
        end=end,
        step_seconds=step,
        window_days=parse_duration(args.window) / 86_400,
        namespace_regex=args.namespace,
        cluster_label=prometheus.cluster_label,
        cluster=args.cluster or prometheus.cluster_value,
        time_queries=not args.no_timing,
    )
    diagnosis = _with_flags(diagnosis, args.command_flags)
    if args.format == "json":
        document = {
            "ok": diagnosis.ok,
            "end": end.isoformat().replace("+00:00", "Z"),
            "findings": [f.as_dict() for f in diagnosis.findings],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(diagnosis, width=shutil.get_terminal_size((120, 40)).columns))
    return 0 if diagnosis.ok else 1


def _with_flags(diagnosis: Diagnosis, flags: frozenset[str]) -> Diagnosis:
    """The findings with every argument they mention shown as this command's flag."""
    spell = flag_speller(flags)
    return Diagnosis(
        tuple(
            replace(f, consequence=respell(f.consequence, spell), fix=respell(f.fix, spell))
            for f in diagnosis.findings
        )
    )


def render_table(diagnosis: Any, width: int = 120) -> str:
    """The findings as one plain-text table: check | status | what was seen | consequence, fix."""
    check_w, status_w = 46, 8
    text_w = max(40, width - check_w - status_w - 4)
    lines = [
        f"{'CHECK':<{check_w}}  {'STATUS':<{status_w}}  SEEN / CONSEQUENCE / FIX",
        "-" * min(width, 160),
    ]
    for f in diagnosis.findings:
        status = f.status.upper() if f.blocking else f.status
        body = [f.detail]
        if f.consequence:
            body.append(f"-> {f.consequence}")
        if f.fix:
            body.append(f"fix: {f.fix}")
        wrapped = [
            line
            for part in body
            for line in textwrap.wrap(part, text_w, break_long_words=False, break_on_hyphens=False)
            or [""]
        ]
        check = textwrap.wrap(f.check, check_w) or [""]
        for i in range(max(len(wrapped), len(check))):
            left = check[i] if i < len(check) else ""
            mid = status if i == 0 else ""
            right = wrapped[i] if i < len(wrapped) else ""
            lines.append(f"{left:<{check_w}}  {mid:<{status_w}}  {right}".rstrip())
    verdict = (
        "ok: everything the recommendations need is there"
        if diagnosis.ok
        else "NOT OK: the checks in capitals are needed; fix them (see 'fix:') and run doctor again"
    )
    lines += ["", verdict, ""]
    return "\n".join(lines)
