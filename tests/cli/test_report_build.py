"""The report builder: parameter checks, atomicity, last week's file, the lock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.report import (
    NotebookError,
    ReportLockedError,
    build_report,
    check_parameters,
    find_previous_recommendations,
    iso_week,
    notebook_path,
    parse_week,
    report_lock,
)
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import Snapshot, load_snapshot

PARAMS = {"snapshot": "s", "recommendations": "r", "cluster": "c", "week": "w", "profile": "p"}


def _notebook(path: Path, parameters: str | None, body: str = "x = 1") -> Path:
    cells = []
    if parameters is not None:
        cell = new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(new_code_cell(body))
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


def test_parameters_must_match_exactly(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path / "odd.ipynb",
        'snapshot: str = ""  # a\nrecommendations: str = ""  # b\ncluster: str = ""  # c\n'
        'profile: str = ""  # d\nnamespace: str = ""  # e',
    )
    with pytest.raises(NotebookError) as error:
        check_parameters(path, PARAMS)
    message = str(error.value)
    assert message.startswith(
        "odd.ipynb: parameters cell declares namespace that the report does not pass"
    )
    assert "lacks week that the report passes" in message
    assert "\n" not in message


def test_a_notebook_without_parameters_cell_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="no cell tagged 'parameters'"):
        check_parameters(_notebook(tmp_path / "bare.ipynb", None), PARAMS)


def test_shipped_notebooks_are_found_from_a_checkout() -> None:
    assert notebook_path("weekly_report").name == "weekly_report.ipynb"


def test_iso_weeks() -> None:
    assert iso_week(date(2026, 11, 23)) == "2026-W48"
    assert iso_week(date(2026, 11, 22)) == "2026-W47"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"  # ISO years do not follow calendar years
    assert parse_week("2026-W48") == date(2026, 11, 23)
    with pytest.raises(UserInputError, match="not an ISO week") as caught:
        parse_week("2026-48")
    # The library names its parameter, not a CLI flag a notebook user does not have.
    assert str(caught.value) == "week: '2026-48' is not an ISO week like 2026-W48"
    assert caught.value.parameter == "week"
    with pytest.raises(UserInputError):
        parse_week("2026-W54")


def test_previous_recommendations_is_the_newest_earlier_week(tmp_path: Path) -> None:
    for week in ("2026-W45", "2026-W46", "2026-W48", "2026-W49"):
        (tmp_path / week).mkdir()
        (tmp_path / week / "recommendations.json").write_text("{}")
    (tmp_path / "2026-W47").mkdir()  # a week whose run failed: no file
    (tmp_path / ".2026-W47.abc").mkdir()  # a temporary build folder
    assert (
        find_previous_recommendations(tmp_path, "2026-W48")
        == tmp_path / "2026-W46" / "recommendations.json"
    )
    assert find_previous_recommendations(tmp_path, "2026-W45") is None
    assert find_previous_recommendations(tmp_path / "missing", "2026-W48") is None


def test_lock_refuses_then_frees(tmp_path: Path) -> None:
    lock = tmp_path / "c" / ".2026-W48.lock"
    with (
        report_lock(lock),
        pytest.raises(ReportLockedError, match="is being built by pid"),
        report_lock(lock, timeout_seconds=0.05, poll_seconds=0.01),
    ):
        pass
    with report_lock(lock):  # released when the first block ended
        pass


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Snapshot, Path]:
    from kianax_capacity.sources.demo import generate_demo_snapshot

    demo = generate_demo_snapshot(days=2)
    folder = tmp_path_factory.mktemp("snap") / "snapshot"
    demo.write(folder, cluster="lab", created_at=datetime(2026, 11, 23, 1, tzinfo=UTC))
    return load_snapshot(folder), folder


@pytest.mark.notebooks
def test_a_failing_notebook_leaves_the_previous_report_intact(tmp_path: Path, small) -> None:  # type: ignore[no-untyped-def]
    snapshot, folder = small
    recs = recommend(snapshot, generated_at=datetime(2026, 11, 23, 2, tzinfo=UTC))
    out = tmp_path / "reports"
    good = build_report(snapshot, folder, recs, out, notebooks=["explore"])
    before = {
        p.relative_to(good.folder): p.read_bytes() for p in good.folder.rglob("*") if p.is_file()
    }

    broken = _notebook(
        tmp_path / "explore.ipynb",
        "\n".join(f'{name}: str = ""  # {name}' for name in PARAMS),
        body="raise RuntimeError('disk on fire')",
    )
    with pytest.raises(NotebookError) as error:
        build_report(
            snapshot, folder, recs, out, notebooks=["explore"], notebook_sources={"explore": broken}
        )
    message = str(error.value)
    assert (
        "explore.ipynb failed in cell" in message
        and "raise RuntimeError('disk on fire')" in message
    )
    assert "RuntimeError: disk on fire" in message

    after = {
        p.relative_to(good.folder): p.read_bytes() for p in good.folder.rglob("*") if p.is_file()
    }
    assert after == before
    assert sorted(p.name for p in (out / "lab").iterdir()) == [".2026-W47.lock", "2026-W47"]


@pytest.mark.notebooks
def test_next_week_compares_with_last_week(tmp_path: Path, small) -> None:  # type: ignore[no-untyped-def]
    snapshot, folder = small
    out = tmp_path / "reports"
    last = out / "lab" / "2026-W46"
    last.mkdir(parents=True)
    previous = recommend(snapshot, generated_at=datetime(2026, 11, 16, 2, tzinfo=UTC))
    # Last week recommended nothing for right-sizing and HPAs: everything this week is new.
    previous.with_rows(rightsizing=[], hpa=[]).write(last / "recommendations.json")
    (last / "index.html").write_text("<p>last week</p>")
    recs = recommend(snapshot, generated_at=datetime(2026, 11, 23, 2, tzinfo=UTC))
    result = build_report(snapshot, folder, recs, out, notebooks=["weekly_report"])
    assert result.previous == last / "recommendations.json"
    page = (result.folder / "weekly_report.html").read_text()
    assert "No previous week" not in page
    copied = json.loads((result.folder / "previous-recommendations.json").read_text())
    assert copied["generated_at"] == "2026-11-16T02:00:00Z"
    top = (out / "index.html").read_text()
    assert top.index("2026-W47") < top.index("2026-W46"), "newest week first"
