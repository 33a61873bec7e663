"""`kianax-capacity diff`: what changed between two recommendation sets, as a PR comment or JSON.

``diff OLD.json NEW.json`` compares last week's recommendations with this week's;
``diff --against-current NEW.json`` shows what applying NEW changes (the comment of a PR that
applies it). Markdown starts with the sticky-comment marker that ``comment`` looks for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.diff import (
    DiffThresholds,
    RecommendationDiff,
    diff_against_current,
    diff_recommendations,
)
from kianax_capacity.outputs.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from kianax_capacity.recommendations import load_recommendations, write_text_atomic


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="changes between two recommendation sets (Markdown PR comment or JSON)",
        description=(
            "Compare two recommendations.json files (OLD NEW), or with --against-current show what "
            "applying one file changes. Small moves are hidden by the noise thresholds."
        ),
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="OLD.json NEW.json, or NEW.json with --against-current; a folder of several "
        "clusters' files (<cluster>/recommendations.json) gives one comment for all of them",
    )
    parser.add_argument(
        "--against-current",
        action="store_true",
        help="compare NEW's recommended values with its current values",
    )
    parser.add_argument(
        "--format",
        choices=("markdown", "json", "table"),
        default="markdown",
        help="output format: markdown (default, the PR comment), json, or table (terminal)",
    )
    parser.add_argument(
        "--min-change-percent",
        type=float,
        default=10.0,
        metavar="P",
        help="hide numeric moves below P%% of the old value (default 10)",
    )
    parser.add_argument(
        "--min-change-usd",
        type=float,
        default=1.0,
        metavar="USD",
        help="hide changes on rows worth less than USD a month (default 1)",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="N",
        help="right-sizing changes in the top table; the rest fold per namespace (default 10)",
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=GITHUB_COMMENT_LIMIT,
        metavar="N",
        help=f"truncate the Markdown to N characters (default {GITHUB_COMMENT_LIMIT}: GitHub's)",
    )
    parser.add_argument(
        "--cluster",
        action="append",
        default=None,
        metavar="NAME",
        help="with folders of several clusters: only this cluster (repeatable)",
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    parser.set_defaults(func=run)


def build_diff(args: argparse.Namespace) -> RecommendationDiff:
    """The diff the arguments ask for (files loaded and validated)."""
    if args.min_change_percent < 0 or args.min_change_usd < 0:
        raise UserInputError("--min-change-percent and --min-change-usd must be zero or more")
    thresholds = DiffThresholds(args.min_change_percent, args.min_change_usd)
    if args.against_current:
        if len(args.files) != 1:
            raise UserInputError(
                "--against-current takes one file: kianax-capacity diff --against-current NEW.json"
            )
        return diff_against_current(load_recommendations(args.files[0]), thresholds)
    if len(args.files) != 2:
        raise UserInputError(
            "give two files (kianax-capacity diff OLD.json NEW.json) "
            "or use --against-current NEW.json"
        )
    old = load_recommendations(args.files[0])
    new = load_recommendations(args.files[1])
    return diff_recommendations(old, new, thresholds)


def _is_fleet(args: argparse.Namespace) -> bool:
    return bool(args.cluster) or any(Path(f).is_dir() for f in args.files)


def build_fleet_diff(args: argparse.Namespace) -> list[Any]:
    """Per-cluster diffs of folders (or several files) of recommendations."""
    from kianax_capacity.outputs.fleet_markdown import fleet_diffs, load_cluster_sets

    thresholds = DiffThresholds(args.min_change_percent, args.min_change_usd)
    paths = [Path(f) for f in args.files]
    if args.against_current:
        old, new = None, load_cluster_sets(paths)
    elif len(paths) == 2:
        old, new = load_cluster_sets(paths[:1]), load_cluster_sets(paths[1:])
    else:
        raise UserInputError(
            "give two folders (kianax-capacity diff OLD/ NEW/) or --against-current NEW/"
        )
    if args.cluster:
        unknown = [c for c in args.cluster if c not in new and (old is None or c not in old)]
        if unknown:
            raise UserInputError(
                f"--cluster {unknown[0]}: not in the files; they hold {', '.join(new)}",
            )
        new = {c: r for c, r in new.items() if c in args.cluster}
        old = None if old is None else {c: r for c, r in old.items() if c in args.cluster}
    return fleet_diffs(old, new, thresholds)


def run(args: argparse.Namespace) -> int:
    if args.top < 0:
        raise UserInputError("--top must be zero or more")
    if args.max_chars < 1000:
        raise UserInputError("--max-chars must be at least 1000")
    if args.min_change_percent < 0 or args.min_change_usd < 0:
        raise UserInputError("--min-change-percent and --min-change-usd must be zero or more")
    if _is_fleet(args):
        return _run_fleet(args)
    diff = build_diff(args)
    text = _render(diff, args)
    if args.out:
        write_text_atomic(Path(args.out), text)
        print(f"wrote {args.out}: {len(diff.changes)} change(s)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _render(diff: RecommendationDiff, args: argparse.Namespace) -> str:
    """One diff in the asked ``--format``: JSON, a terminal table or the Markdown comment."""
    if args.format == "json":
        return json.dumps(diff.to_json(), indent=2) + "\n"
    if args.format == "table":
        from kianax_capacity.outputs.terminal import render_diff_table

        return render_diff_table(diff)
    return render_markdown(diff, top=args.top, max_chars=args.max_chars)


def _run_fleet(args: argparse.Namespace) -> int:
    from kianax_capacity.outputs.fleet_markdown import fleet_diff_json, render_fleet_markdown

    items = build_fleet_diff(args)
    if len(items) == 1 and items[0].diff is not None and not items[0].note:
        # One cluster: its own comment, exactly as a single file gives.
        text = _render(items[0].diff, args)
    elif args.format == "json":
        text = json.dumps(fleet_diff_json(items), indent=2) + "\n"
    elif args.format == "table":
        from kianax_capacity.outputs.terminal import render_diff_table

        text = "".join(
            f"{item.cluster}\n" + (render_diff_table(item.diff) if item.diff else item.note + "\n")
            for item in items
        )
    else:
        text = render_fleet_markdown(items, top=args.top, max_chars=args.max_chars)
    changes = sum(len(i.diff.changes) for i in items if i.diff is not None)
    if args.out:
        write_text_atomic(Path(args.out), text)
        print(f"wrote {args.out}: {changes} change(s) in {len(items)} cluster(s)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
