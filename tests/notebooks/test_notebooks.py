"""The shipped notebooks: committed clean, one parameters cell each, and they all execute."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from kianax_capacity.outputs.report import NOTEBOOKS, REPORT_PARAMETERS, build_report
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import write_snapshot

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "notebooks"


def _notebooks() -> list[Path]:
    return sorted(FOLDER.glob("*.ipynb"))


def test_every_report_notebook_is_shipped() -> None:
    assert {p.stem for p in _notebooks()} == set(NOTEBOOKS)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    assert "papermill" not in notebook.metadata


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_exactly_one_typed_parameters_cell(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    source = tagged[0].source
    declared = re.findall(r"^(\w+): (\w+) = .+  # .+$", source, flags=re.MULTILINE)
    expected = set(REPORT_PARAMETERS) | (
        {"previous_recommendations"} if path.stem == "weekly_report" else set()
    )
    assert {name for name, _ in declared} == expected, "every parameter typed and commented"
    assert {kind for _, kind in declared} == {"str"}


def test_notebooks_match_their_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/make_notebooks.py is the source: an edit made only in the .ipynb would be lost."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", REPO / "scripts" / "make_notebooks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, cells in module.NOTEBOOKS.items():
        built = module.build(name, cells)
        committed = nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)
        assert [c.source for c in built.cells] == [c.source for c in committed.cells], name


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, demo_snapshot):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("report")
    snapshot_dir = root / "snap"
    demo_snapshot.write(snapshot_dir, cluster="demo-cluster", created_at=datetime(2026, 11, 23, 1, tzinfo=UTC))
    from kianax_capacity.snapshot import load_snapshot

    snapshot = load_snapshot(snapshot_dir)
    recs = recommend(snapshot, generated_at=datetime(2026, 11, 23, 2, tzinfo=UTC))
    return build_report(snapshot, snapshot_dir, recs, root / "reports", parallel=2)


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_every_notebook_executes_and_renders(report, name: str) -> None:  # type: ignore[no-untyped-def]
    page = (report.folder / f"{name}.html").read_text()
    assert "Traceback" not in page
    assert (
        'class="jp-RenderedText jp-OutputArea-output" data-mime-type="application/vnd.jupyter.stderr"'
        not in page
    )
    assert "jp-OutputArea-output" in page
    # Code is hidden: the import line of the setup cell is not in the page.
    assert "from kianax_capacity.outputs import notebook as nb" not in page
    if name != "costs" or "Plotly.newPlot" in page:
        assert page.count("Plotly.newPlot") >= 1, "at least one chart is drawn"


@pytest.mark.notebooks
def test_plotly_js_embedded_once_per_page(report) -> None:  # type: ignore[no-untyped-def]
    page = (report.folder / "weekly_report.html").read_text()
    # The library's own banner appears once: one copy of plotly.js, no CDN reference.
    assert page.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]*src=\"https?:", page), "renders offline: no external scripts"
    assert len(page) < 8 * 1024 * 1024


@pytest.mark.notebooks
def test_weekly_report_has_its_sections(report) -> None:  # type: ignore[no-untyped-def]
    page = (report.folder / "weekly_report.html").read_text()
    for heading in (
        "Cost and trend",
        "Top 10 actions",
        "Capacity forecast",
        "What changed since last week",
    ):
        assert heading in page
    assert "demo-cluster" in page and report.week in page
    data = json.loads((report.folder / "recommendations.json").read_text())
    # The headline card shows the monthly cost of the recommendations file, formatted.
    assert f"${data['summary']['monthly_cost_usd']:,.2f}" in page
