"""The PR comment Markdown: golden files, structure, and the 65,536-character limit.

Regenerate the golden files after an intended change of the layout with
``UPDATE_GOLDEN=1 python -m pytest tests/unit/test_markdown_comment.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kianax_capacity.outputs.diff import DiffThresholds, diff_against_current, diff_recommendations
from kianax_capacity.outputs.markdown import GITHUB_COMMENT_LIMIT, MARKER, render_markdown
from kianax_capacity.recommendations import (
    RecommendationSet,
    Resources,
    RightsizingRow,
    load_recommendations,
)

TESTS = Path(__file__).resolve().parents[1]
GOLDEN = TESTS / "golden"
RECS = TESTS / "fixtures" / "recs"
MI = 1024**2


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} missing; run with UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(), (
        f"{name} differs from the golden file; UPDATE_GOLDEN=1 if intended"
    )


def _check_structure(markdown: str) -> None:
    """Every table has a header, a separator and rows of the same width; details are closed."""
    assert markdown.splitlines()[0] == MARKER
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].startswith("|"):
            index += 1
            continue
        table = []
        while index < len(lines) and lines[index].startswith("|"):
            table.append(lines[index])
            index += 1
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
        assert len(widths) == 1, f"ragged table: {table[:3]}"
        assert re.fullmatch(r"\|(-+:?\|)+", table[1]), table[1]
        assert len(table) >= 3, "a table without rows"
        # A table ends at a blank line or the end of a <details> block, never mid-row.
        assert index == len(lines) or lines[index] == "", lines[index]
    assert markdown.count("<details>") == markdown.count("</details>")


@pytest.fixture(scope="module")
def week1() -> RecommendationSet:
    return load_recommendations(RECS / "week1.json")


@pytest.fixture(scope="module")
def week2() -> RecommendationSet:
    return load_recommendations(RECS / "week2.json")


def test_between_weeks_golden(week1: RecommendationSet, week2: RecommendationSet) -> None:
    markdown = render_markdown(diff_recommendations(week1, week2))
    _check_structure(markdown)
    _golden("diff_between.md", markdown)


def test_against_current_golden(week2: RecommendationSet) -> None:
    markdown = render_markdown(diff_against_current(week2), top=3)
    _check_structure(markdown)
    # top=3: the rest of the right-sizing changes fold into one <details> per namespace.
    assert markdown.count("<details>") == 1
    assert "| api-gateway | app | CPU request | 250m → 100m | +$3.60 | low |" in markdown
    _golden("diff_against_current.md", markdown)


def test_no_changes_golden(week2: RecommendationSet) -> None:
    markdown = render_markdown(diff_recommendations(week2, week2))
    assert markdown.startswith(MARKER + "\n")
    assert "No changes" in markdown and "|" not in markdown
    _golden("diff_no_changes.md", markdown)


def _many(containers: int, namespaces: int = 3) -> RecommendationSet:
    rows = []
    for i in range(containers):
        rows.append(
            RightsizingRow(
                namespace=f"team-{i % namespaces}",
                kind="Deployment",
                workload=f"service-{i:04d}",
                container="app",
                current=Resources(0.25, 0.5, 256 * MI, 512 * MI),
                recommended=Resources(0.1 + (i % 7) / 100, None, (128 + i % 50) * MI, 256 * MI),
                status="ok",
                reason="p95",
                replicas=2.0,
                monthly_savings_usd=round(1.0 + (i * 37 % 101) / 10, 2),
                risk=("low", "medium", "high")[i % 3],
            )
        )
    moment = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    return RecommendationSet(
        cluster="big",
        generated_at=moment,
        window_start=datetime(2026, 11, 9, tzinfo=UTC),
        window_end=datetime(2026, 11, 23, tzinfo=UTC),
        step_seconds=300,
        rightsizing=tuple(rows),
    )


def test_truncation_golden_cuts_between_rows_with_a_note() -> None:
    diff = diff_against_current(_many(40), DiffThresholds(10, 1))
    markdown = render_markdown(diff, top=5, max_chars=6000)
    assert len(markdown) <= 6000
    _check_structure(markdown)
    hidden = re.search(r"(\d+) of (\d+) changes are not shown", markdown)
    assert hidden is not None and int(hidden[2]) == 40
    shown = sum(
        1 for line in markdown.splitlines() if re.match(r"\| (team-\d/)?service-\d{4} ", line)
    )
    assert shown + int(hidden[1]) == 40
    assert markdown.rstrip().endswith("kianax-capacity</sub>")
    _golden("diff_truncated.md", markdown)


def test_thousands_of_changes_stay_under_githubs_limit() -> None:
    diff = diff_against_current(_many(3000, namespaces=12))
    markdown = render_markdown(diff)
    assert GITHUB_COMMENT_LIMIT - 5000 < len(markdown) <= GITHUB_COMMENT_LIMIT
    _check_structure(markdown)
    assert "changes are not shown" in markdown


def test_small_sets_are_not_truncated(week2: RecommendationSet) -> None:
    markdown = render_markdown(diff_against_current(week2))
    assert "not shown" not in markdown.split("---")[0]


def test_cells_cannot_break_the_table(week2: RecommendationSet) -> None:
    row = week2.rightsizing[0]
    odd = week2.with_rows(
        rightsizing=[RightsizingRow(**{**row.__dict__, "workload": "a|b<script>", "risk": "lo|w"})]
    )
    markdown = render_markdown(diff_against_current(odd))
    _check_structure(markdown)
    assert "a\\|b&lt;script&gt;" in markdown and "<script>" not in markdown
