"""`kianax-capacity apply`: write recommendations into the Helm values files of each service.

Only rows with status ``ok`` are applied, only values that change are written, and everything else
in the file (comments, order, quoting, anchors) stays byte for byte. ``--dry-run`` prints the
unified diff and writes nothing. A missing chart or values file is reported and skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kianax_capacity.cli._common import config_from_args
from kianax_capacity.outputs.helm import SECTIONS, HelmLayout, apply_recommendations
from kianax_capacity.recommendations import load_recommendations


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="patch Helm values files with the recommendations (keeps comments and layout)",
        description=(
            "Write right-sizing (resources.requests/limits) and HPA (autoscaling.*) "
            "recommendations into charts/<workload>/<values file>. Only values that change are "
            "written."
        ),
    )
    parser.add_argument("recommendations", metavar="RECOMMENDATIONS.json")
    parser.add_argument(
        "--charts", metavar="DIR", help="folder of charts (default: [helm] charts, 'charts')"
    )
    parser.add_argument(
        "--values-file",
        metavar="NAME",
        help="values file in each chart (default: [helm] values_file, 'values-prod.yaml')",
    )
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        default=",".join(SECTIONS),
        help="comma-separated sections to apply: rightsizing,hpa (default both)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the unified diff; write nothing"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args).helm
    recs = load_recommendations(args.recommendations)
    layout = HelmLayout(
        charts_dir=Path(args.charts or config.charts),
        values_file=args.values_file or config.values_file,
        chart_for=dict(config.chart_for),
        resources_path=config.resources_path,
        autoscaling_path=config.autoscaling_path,
        container_paths=dict(config.container_paths),
    )
    only = tuple(part.strip() for part in args.only.split(",") if part.strip())
    result = apply_recommendations(recs, layout, only=only, dry_run=args.dry_run)
    if args.dry_run:
        sys.stdout.write(result.diff)
    for file in result.files:
        if file.status == "changed":
            verb = "would change" if args.dry_run else "changed"
            print(f"{verb} {file.path}:", file=sys.stderr)
            for change in file.changes:
                print(f"  {change.describe()}", file=sys.stderr)
        elif file.status == "unchanged":
            print(f"unchanged {file.path}: already matches the recommendations", file=sys.stderr)
        for message in file.messages:
            print(
                f"skipped {message}" if file.status == "skipped" else f"  note: {message}",
                file=sys.stderr,
            )
    for row in result.skipped_rows:
        print(f"skipped {row}", file=sys.stderr)
    changed = len(result.changed_files)
    skipped = sum(1 for f in result.files if f.status == "skipped") + len(result.skipped_rows)
    print(
        f"{'dry run: ' if args.dry_run else ''}{changed} values file(s) "
        f"{'would change' if args.dry_run else 'changed'}, {skipped} skipped",
        file=sys.stderr,
    )
    return 0
