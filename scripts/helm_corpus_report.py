"""`apply` on every chart of the real-chart corpus: written correctly, refused, or wrong.

For each chart in tests/fixtures/charts-corpus/ a platform repository is laid out the way users
hold third-party charts: ``charts/<chart>/`` with the upstream ``Chart.yaml``, ``values.yaml``
(the chart's defaults), ``values-prod.yaml`` (a copy of the defaults, the file ``apply`` edits)
and the upstream templates where the corpus has them. One recommendation per container of the
answer key (tests/fixtures/charts-corpus/expected.yaml, read by hand from the charts) is applied
twice: with only the chart-folder mapping (``[helm] chart_for``), and with ``container_paths``
naming every container's key. A row is

* **correct** when the values the chart reads at the answer key's path equal the recommendation
  and nothing outside the answer key's paths (and bitnami preset keys) changed;
* **refused** when it is reported as skipped, with a reason;
* **wrong** otherwise — written elsewhere, or neither written nor refused (silent).

Each scenario also checks that a dry run's diff equals the real run's and that a second run
changes nothing. Usage: ``python scripts/helm_corpus_report.py [--markdown]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kianax_capacity.outputs.helm import HelmLayout, apply_recommendations  # noqa: E402
from kianax_capacity.outputs.helm_plan import verify_resources  # noqa: E402
from kianax_capacity.outputs.helm_values import ValueStack  # noqa: E402
from kianax_capacity.outputs.yaml_edit import load_data  # noqa: E402
from kianax_capacity.recommendations import (  # noqa: E402
    RecommendationSet,
    Resources,
    RightsizingRow,
)

CORPUS = ROOT / "tests" / "fixtures" / "charts-corpus"
MI = 1024**2
T0 = datetime(2026, 11, 16, tzinfo=UTC)
NAMESPACE = "corpus"
CURRENT = Resources(
    cpu_request=0.5, cpu_limit=1.0, memory_request=1024 * MI, memory_limit=2048 * MI
)


@dataclass
class Outcome:
    correct: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    wrong: list[tuple[str, str]] = field(default_factory=list)
    dry_run_equal: bool = True
    idempotent: bool = True


@dataclass
class ChartReport:
    chart: str
    templates: bool
    containers: int
    by_name: Outcome
    no_mapping: Outcome
    with_mapping: Outcome


def _load(text: str) -> Any:
    return load_data(text) or {}


def expected() -> dict[str, list[dict[str, str]]]:
    data: dict[str, list[dict[str, str]]] = _load((CORPUS / "expected.yaml").read_text())
    return data


def _rows(entries: list[dict[str, str]]) -> list[RightsizingRow]:
    rows = []
    for i, entry in enumerate(entries):
        recommended = Resources(
            cpu_request=round(0.111 + 0.01 * i, 3),
            cpu_limit=None,
            memory_request=(101 + i) * MI,
            memory_limit=(201 + i) * MI,
        )
        rows.append(
            RightsizingRow(
                namespace=NAMESPACE,
                kind=entry["kind"],
                workload=entry["workload"],
                container=entry["container"],
                current=CURRENT,
                recommended=recommended,
                status="ok",
                reason="corpus",
                replicas=1.0,
            )
        )
    return rows


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(data, dict) and data:
        out: dict[tuple[str, ...], Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, (*prefix, str(key))))
        return out
    return {prefix: data}


def _changed(before: Any, after: Any) -> set[tuple[str, ...]]:
    a, b = _leaves(before), _leaves(after)
    return {path for path in set(a) | set(b) if a.get(path, "<absent>") != b.get(path, "<absent>")}


def _lay_out(root: Path, folder: str, templates: bool) -> Path:
    chart = root / folder
    chart.mkdir(parents=True)
    source = CORPUS / folder
    shutil.copyfile(source / "Chart.yaml", chart / "Chart.yaml")
    shutil.copyfile(source / "values.yaml", chart / "values.yaml")
    shutil.copyfile(source / "values.yaml", chart / "values-prod.yaml")
    if templates and (source / "templates").is_dir():
        shutil.copytree(source / "templates", chart / "templates")
    return chart / "values-prod.yaml"


def _scenario(folder: str, entries: list[dict[str, str]], mapped: bool, templates: bool) -> Outcome:
    rows = _rows(entries)
    recs = RecommendationSet(
        cluster="corpus",
        generated_at=T0,
        window_start=T0,
        window_end=T0,
        step_seconds=300,
        rightsizing=tuple(rows),
    )
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as tmp:
        charts = Path(tmp) / "charts"
        values = _lay_out(charts, folder, templates)
        layout = HelmLayout(
            charts,
            chart_for={e["workload"]: folder for e in entries},
            container_paths=(
                {f"{e['workload']}/{e['container']}": e["path"] for e in entries} if mapped else {}
            ),
        )
        before_text = values.read_text()
        dry = apply_recommendations(recs, layout, dry_run=True)
        outcome.dry_run_equal = values.read_text() == before_text
        real = apply_recommendations(recs, layout)
        outcome.dry_run_equal = outcome.dry_run_equal and dry.diff == real.diff
        again = apply_recommendations(recs, layout)
        outcome.idempotent = not again.changed_files
        after_text = values.read_text()
        _judge(outcome, rows, entries, real, _load(before_text), _load(after_text), charts, folder)
    return outcome


def _judge(
    outcome: Outcome,
    rows: list[RightsizingRow],
    entries: list[dict[str, str]],
    result: Any,
    before: Any,
    after: Any,
    charts: Path,
    folder: str,
) -> None:
    base = _load((charts / folder / "values.yaml").read_text())
    stack = ValueStack((base, after))
    allowed = [tuple(e["path"].split(".")) for e in entries] + [
        tuple(e["preset"].split(".")) for e in entries if e.get("preset")
    ]
    stray = [
        path
        for path in _changed(before, after)
        if not any(path[: len(prefix)] == prefix for prefix in allowed)
    ]
    file_skips = [m for f in result.files if f.status == "skipped" for m in f.messages]
    for row, entry in zip(rows, entries, strict=True):
        who = f"{row.namespace}/{row.workload}/{row.container}"
        refusal = next((r for r in result.skipped_rows if r.startswith(who + ":")), None)
        if refusal is None and file_skips:
            refusal = f"{who}: {file_skips[0]}"
        prefix = tuple(entry["path"].split("."))
        if refusal is not None:
            outcome.refused.append((who, refusal.split(": ", 1)[1]))
        elif verify_resources(stack, row, prefix) == "":
            outcome.correct.append(who)
        else:
            outcome.wrong.append((who, "neither written at its key nor refused"))
    for path in stray:
        outcome.wrong.append((".".join(path), "changed a key the chart does not read for it"))


def run() -> list[ChartReport]:
    reports = []
    for folder, entries in expected().items():
        reports.append(
            ChartReport(
                folder,
                (CORPUS / folder / "templates").is_dir(),
                len(entries),
                _scenario(folder, entries, mapped=False, templates=False),
                _scenario(folder, entries, mapped=False, templates=True),
                _scenario(folder, entries, mapped=True, templates=False),
            )
        )
    return reports


def _cell(outcome: Outcome) -> str:
    parts = [f"{len(outcome.correct)} correct"]
    if outcome.refused:
        parts.append(f"{len(outcome.refused)} refused")
    parts.append(f"**{len(outcome.wrong)} wrong**" if outcome.wrong else "0 wrong")
    if not outcome.dry_run_equal:
        parts.append("dry run differs")
    if not outcome.idempotent:
        parts.append("not idempotent")
    return ", ".join(parts)


def _reason(outcome: Outcome) -> str:
    if not outcome.refused:
        return ""
    reason = outcome.refused[0][1]
    reason = reason.split("; add [helm]")[0]
    return reason.replace("|", "\\|")[:110]


_SCENARIOS = ("by_name", "no_mapping", "with_mapping")


def markdown(reports: list[ChartReport]) -> str:
    lines = [
        "| chart | containers | used by name (Chart.yaml + values, no mapping) | "
        "templates in the repo (no mapping) | values only + `container_paths` | "
        "why refused |",
        "|---|---:|---|---|---|---|",
    ]
    for r in reports:
        lines.append(
            f"| {r.chart} | {r.containers} | {_cell(r.by_name)} | {_cell(r.no_mapping)} | "
            f"{_cell(r.with_mapping)} | {_reason(r.no_mapping) or _reason(r.by_name)} |"
        )
    cells = []
    for name in _SCENARIOS:
        counts = [
            sum(len(getattr(getattr(r, name), k)) for r in reports)
            for k in ("correct", "refused", "wrong")
        ]
        cells.append(f"{counts[0]} correct, {counts[1]} refused, {counts[2]} wrong")
    lines.append(
        f"| **{len(reports)} charts** | {sum(r.containers for r in reports)} | "
        + " | ".join(cells)
        + " | |"
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the docs table only")
    args = parser.parse_args()
    reports = run()
    sys.stdout.write(markdown(reports))
    if not args.markdown:
        for r in reports:
            for scenario in (r.by_name, r.no_mapping, r.with_mapping):
                for who, why in scenario.wrong:
                    print(f"WRONG {r.chart}: {who}: {why}")
    wrong = sum(len(getattr(r, name).wrong) for r in reports for name in _SCENARIOS)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
