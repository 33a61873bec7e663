"""``kianax-capacity report`` end to end, its one-line errors and its lock."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kianax_capacity.outputs.report import NOTEBOOKS, report_lock

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kianax_capacity.sources.demo import generate_demo_snapshot

    demo = generate_demo_snapshot(days=2)
    folder = tmp_path_factory.mktemp("snap") / "snapshot"
    demo.write(folder, cluster="lab", created_at=datetime(2026, 11, 23, 1, tzinfo=UTC))
    return folder


@pytest.mark.notebooks
@pytest.mark.slow
def test_report_end_to_end_from_the_demo_source(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "reports"
    # A relative --out-dir, as `make report` passes it: notebooks run in parallel threads and
    # must not depend on the process's working folder.
    result = cli(
        "report", "--source", "demo", "--window", "2d", "--out-dir", "reports", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    week = (
        out / "kianax-production" / "2026-W47"
    )  # the demo window ends Monday 2026-11-23 00:00, the end of W47
    index = (week / "index.html").read_text()
    for name in NOTEBOOKS:
        assert f"href='{name}.html'" in index
        page = (week / f"{name}.html").read_text()
        assert "Traceback" not in page, name
        assert not re.search(
            r"data-mime-type=\"application/vnd\.jupyter\.(stderr|error)\"", page
        ), name
        assert "Plotly.newPlot" in page, f"{name} draws at least one chart"
    assert "href='recommendations.json'" in index and (week / "recommendations.json").is_file()
    assert (
        "href='snapshot/manifest.json'" in index and (week / "snapshot" / "manifest.json").is_file()
    )
    top = (out / "index.html").read_text()
    assert "kianax-production/2026-W47/index.html" in top
    # Nothing temporary is left beside the report.
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert [
        p.name
        for p in (out / "kianax-production").iterdir()
        if p.name.startswith(".") and not p.name.endswith(".lock")
    ] == []


def test_second_run_for_the_same_week_is_refused_while_the_first_holds_the_lock(
    cli,
    tmp_path: Path,
    snapshot_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "reports"
    with report_lock(out / "lab" / ".2026-W47.lock"):
        result = cli("report", "--source", str(snapshot_dir), "--out-dir", str(out))
    assert result.returncode == 2
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("kianax-capacity: error:")]
    assert (
        len(errors) == 1 and "is being built by pid" in errors[0] and "--lock-timeout" in errors[0]
    )
    assert "Traceback" not in result.stderr
    assert not (out / "lab" / "2026-W47").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-48"], "--week: '2026-48' is not an ISO week like 2026-W48"),
        (["--upload", "https://bucket/prefix"], "--upload: 'https://bucket/prefix' must look like"),
        (["--previous", "/nonexistent/recommendations.json"], "no such file"),
        (["--parallel", "0"], "--parallel must be 1 or more"),
    ],
)
def test_bad_flags_fail_with_one_line(
    cli,
    tmp_path: Path,
    snapshot_dir: Path,
    args: list[str],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    result = cli("report", "--source", str(snapshot_dir), "--out-dir", str(tmp_path), *args)
    assert result.returncode == 2
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("kianax-capacity: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr
