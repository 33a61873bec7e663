"""``kianax-capacity backtest``: recommend from a train window, score on the window after it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kianax_capacity.cli._common import config_from_args, progress_from_args
from kianax_capacity.errors import UserInputError
from kianax_capacity.model import PROFILES, ResourcePrices

#: For workloads on no known node group when the snapshot has no priced nodes at all.
DEFAULT_PRICES = ResourcePrices(cpu_core_hour_usd=0.0316, memory_gib_hour_usd=0.0042)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="score right-sizing strategies: recommend from past days, check on the days after",
        description="Recommend from the first --train-days of the snapshot's last "
        "--train-days + --test-days, then score each strategy on the --test-days that follow: monthly "
        "cost of requests, CPU under-request rate, CPU-starved and OOM-risk containers, savings.",
    )
    parser.add_argument(
        "snapshot", type=Path, metavar="SNAPSHOT", help="snapshot folder (from fetch)"
    )
    parser.add_argument(
        "--train-days", type=float, default=14.0, help="days to recommend from (default 14)"
    )
    parser.add_argument("--test-days", type=float, default=7.0, help="days to score on (default 7)")
    parser.add_argument(
        "--strategies",
        default="krr-simple,vpa,kianax",
        help="comma-separated strategy names (default krr-simple,vpa,kianax)",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="production (default), development or high-availability",
    )
    parser.add_argument(
        "--rolling",
        action="store_true",
        help="rolling origins: test every --test-days window that has one before it, train on "
        "everything before it, and report each strategy's spread across origins",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "markdown"),
        default="table",
        help="table (default), json, or markdown (for docs and PR comments)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kianax_capacity.prices import embedded_catalog, node_group_unit_prices
    from kianax_capacity.recommenders.backtest import run_backtest, run_rolling_backtest
    from kianax_capacity.recommenders.rightsizing import get_strategy
    from kianax_capacity.snapshot import load_snapshot

    strategies = tuple(name.strip() for name in args.strategies.split(",") if name.strip())
    if not strategies:
        raise UserInputError("--strategies is empty; give names like krr-simple,vpa,kianax")
    for name in strategies:
        get_strategy(name)  # fail fast, with the known names, before loading anything
    config = config_from_args(args)
    progress = progress_from_args(args)
    with progress.task(f"loading {args.snapshot}"):
        snapshot = load_snapshot(args.snapshot)
    # Node-group prices from the embedded, dated catalog (offline); the average of the groups
    # prices workloads whose node group is unknown.
    unit_prices = node_group_unit_prices(
        snapshot.nodes, embedded_catalog(config.aws.region), step_seconds=snapshot.step_seconds
    )
    if args.rolling:
        with progress.task("backtesting from rolling origins"):
            rolling = run_rolling_backtest(
                snapshot,
                test_days=args.test_days,
                strategies=strategies,
                profile=args.profile or config.profile,
                unit_prices=unit_prices,
                default_prices=_average(unit_prices),
                exclusions=config.exclusions,
                guardrails=config.workloads,
            )
        if args.format == "json":
            sys.stdout.write(json.dumps(rolling.to_json(), indent=2) + "\n")
        else:
            sys.stdout.write(rolling.to_markdown())
        return 0
    with progress.task("backtesting"):
        result = run_backtest(
            snapshot,
            train_days=args.train_days,
            test_days=args.test_days,
            strategies=strategies,
            profile=args.profile or config.profile,
            unit_prices=unit_prices,
            default_prices=_average(unit_prices),
            exclusions=config.exclusions,
            guardrails=config.workloads,
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        return 0
    if args.format == "markdown":
        sys.stdout.write(result.to_markdown())
        return 0
    _print_table(result)
    return 0


def _average(unit_prices: dict[str, ResourcePrices]) -> ResourcePrices:
    if not unit_prices:
        return DEFAULT_PRICES
    values = list(unit_prices.values())
    return ResourcePrices(
        cpu_core_hour_usd=sum(v.cpu_core_hour_usd for v in values) / len(values),
        memory_gib_hour_usd=sum(v.memory_gib_hour_usd for v in values) / len(values),
    )


def _print_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Backtest: train {result.train_window[0]:%Y-%m-%d}..{result.train_window[1]:%Y-%m-%d}, "
        f"test ..{result.test_window[1]:%Y-%m-%d}, profile {result.profile}",
    )
    for header in (
        "strategy",
        "cost $/mo",
        "savings $/mo",
        "CPU under-req",
        "incl. throttled",
        "CPU-starved",
        "OOM-risk",
        "OOM-risk not leak",
        "throttled $/mo",
    ):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for score in result.scores:
        table.add_row(
            score.strategy,
            f"{score.monthly_cost_usd:,.2f}",
            f"{score.monthly_savings_usd:,.2f}",
            f"{score.cpu_under_request_rate * 100:.2f}%",
            f"{score.cpu_under_request_rate_censoring_aware * 100:.2f}%",
            str(score.cpu_starved_containers),
            str(score.memory_oom_risk_containers),
            str(score.memory_oom_risk_unflagged),
            f"{score.monthly_cost_throttled_usd:,.2f}",
        )
    console = Console(width=140)
    console.print(table)
    for record in result.leaks.to_dict("records"):
        console.print(
            f"leak flagged by {record['strategy']}: {record['namespace']}/{record['workload']}/"
            f"{record['container']} grows ~{record['leak_slope_mib_per_day']:.1f} MiB/day "
            f"(OOM risk in the test window: {record['oom_risk']}) - a bug to fix"
        )
