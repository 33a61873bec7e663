"""`kianax-capacity apply`: write recommendations into the Helm values files of each service.

Only rows with status ``ok`` are applied, only where the chart reads them (its templates, the
shipped table of known charts, or ``[helm] container_paths``), only values that change; everything
else in the file (comments, order, quoting, anchors, line endings) stays byte for byte.
``--dry-run`` prints the unified diff and writes nothing. Rows that cannot be placed are reported
with the reason and the fix; ``--strict`` (or ``[helm] strict = true``) makes them exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kianax_capacity.cli._common import config_from_args, flag_speller
from kianax_capacity.errors import UserInputError, respell
from kianax_capacity.outputs.argocd_apply import apply_argocd
from kianax_capacity.outputs.helm import SECTIONS, ApplyResult, HelmLayout, apply_recommendations
from kianax_capacity.recommendations import load_recommendations


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="patch Helm values files with the recommendations (keeps comments and layout)",
        description=(
            "Write right-sizing (requests/limits) and HPA recommendations into "
            "charts/<chart>/<values file>, at the keys the chart's templates read. Only values "
            "that change are written."
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
        "--argocd",
        metavar="DIR",
        help="folder of ArgoCD Application manifests: patch the values they give their charts "
        "(helm.values blocks, valuesObject, valueFiles) instead of charts/<chart>/ "
        "(default: [helm] argocd)",
    )
    parser.add_argument(
        "--repo-root",
        metavar="DIR",
        help="local checkout that the Applications' Git repoURLs and $ref value files resolve "
        "to (default: [helm] repo_root, '.')",
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
    parser.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="exit 1 when any row or file is skipped (default: [helm] strict, off); "
        "use --strict in CI",
    )
    parser.set_defaults(func=run)


def _report(result: ApplyResult, dry_run: bool, flags: frozenset[str]) -> None:
    spell = flag_speller(flags)  # the results mention library arguments; show their flags
    for file in result.files:
        if file.status == "changed":
            verb = "would change" if dry_run else "changed"
            print(f"{verb} {file.path}:", file=sys.stderr)
            for change in file.changes:
                print(f"  {change.describe()}", file=sys.stderr)
        elif file.status == "unchanged":
            print(f"unchanged {file.path}: already matches the recommendations", file=sys.stderr)
        for message in (respell(text, spell) for text in file.messages):
            print(
                f"skipped {message}" if file.status == "skipped" else f"  note: {message}",
                file=sys.stderr,
            )
        for line in file.verified:
            print(f"  verified (values re-read through the chart's paths): {line}", file=sys.stderr)
    for row in result.skipped_rows:
        print(f"skipped {respell(row, spell)}", file=sys.stderr)


def _apply_argocd(
    recs: Any, layout: HelmLayout, argocd: str, repo_root: str, only: tuple[str, ...], args: Any
) -> ApplyResult:
    apps, root = Path(argocd), Path(repo_root)
    if not apps.is_dir():
        raise UserInputError(f"--argocd {apps}: not a folder of Application manifests")
    if not root.is_dir():
        raise UserInputError(f"--repo-root {root}: not a folder")
    return apply_argocd(recs, layout, apps, root, only=only, dry_run=args.dry_run)


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
        values_stack=tuple(config.values_stack),
    )
    only = tuple(part.strip() for part in args.only.split(",") if part.strip())
    argocd = args.argocd or config.argocd
    if argocd:
        result = _apply_argocd(recs, layout, argocd, args.repo_root or config.repo_root, only, args)
    else:
        result = apply_recommendations(recs, layout, only=only, dry_run=args.dry_run)
    if args.dry_run:
        sys.stdout.write(result.diff)
    _report(result, args.dry_run, args.command_flags)
    changed = len(result.changed_files)
    skipped = result.skipped_count
    strict = config.strict if args.strict is None else args.strict
    summary = (
        f"{'dry run: ' if args.dry_run else ''}{changed} values file(s) "
        f"{'would change' if args.dry_run else 'changed'}, {skipped} skipped"
    )
    if strict and skipped:
        print(f"{summary}; failing because of --strict", file=sys.stderr)
        return 1
    print(summary, file=sys.stderr)
    return 0
