"""Weekly reports: run the shipped notebooks with papermill and publish them as HTML.

Layout of the output folder (``--out-dir``, default ``reports``)::

    reports/index.html                          every cluster and week, newest first
    reports/<cluster>/<ISO week>/index.html     links to the notebooks and the raw files
    reports/<cluster>/<ISO week>/<notebook>.html   one per notebook, code hidden
    reports/<cluster>/<ISO week>/recommendations.json
    reports/<cluster>/<ISO week>/snapshot/      the snapshot the week was computed from
    reports/<cluster>/.<ISO week>.lock          held while a run builds that week

A run builds the week's folder under a temporary name beside it and renames it into place only
when every notebook ran and rendered (:class:`kianax_capacity.snapshot.atomic_directory`), so a
failed run leaves the previous report exactly as it was. A lock file (``fcntl.flock``, released
by the kernel if the process dies, so never stale) stops two runs building the same week; the
second one refuses at once, or waits up to ``lock_timeout`` seconds.

Notebooks run in a kernel started with the same Python as this process (not whatever
``python3`` kernelspec happens to be installed), so a fresh virtualenv works without
``ipykernel install``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import html
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from kianax_capacity._optional import import_optional
from kianax_capacity.errors import NotebookError, OutputError, ReportLockedError, UserInputError
from kianax_capacity.recommendations import RecommendationSet
from kianax_capacity.snapshot import Snapshot, atomic_directory

log = logging.getLogger(__name__)

__all__ = [
    "NOTEBOOKS",
    "REPORT_PARAMETERS",
    "NotebookError",
    "ReportLockedError",
    "ReportResult",
    "build_report",
    "check_parameters",
    "find_previous_recommendations",
    "iso_week",
    "notebook_path",
    "page",
    "parse_week",
    "report_lock",
    "run_notebook",
    "write_top_index",
]

#: The notebooks of a weekly report, in reading order, with their titles.
NOTEBOOKS: dict[str, str] = {
    "weekly_report": "Weekly report",
    "rightsizing": "Right-sizing",
    "hpa": "HPA",
    "spot_and_nodegroups": "Spot and node groups",
    "costs": "Costs",
    "explore": "Explore (starting point for JupyterLab)",
}

#: Parameters every report notebook declares; ``weekly_report`` also takes the previous set.
REPORT_PARAMETERS = ("snapshot", "recommendations", "cluster", "week", "profile")
_EXTRA_PARAMETERS = {"weekly_report": ("previous_recommendations",)}

_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


# --- weeks -------------------------------------------------------------------------------------


def iso_week(moment: datetime | date) -> str:
    """The ISO week of a date, as ``2026-W48``.

    Example:
        >>> iso_week(date(2026, 11, 23))
        '2026-W48'
    """
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def window_week(window_end: datetime) -> str:
    """The ISO week a window reports on: the week of its last instant.

    A weekly window ends at Monday 00:00, which belongs to the new week; the data is the week
    before it.

    Example:
        >>> window_week(datetime(2026, 11, 23, tzinfo=UTC))
        '2026-W47'
    """
    return iso_week(window_end - timedelta(microseconds=1))


def parse_week(text: str) -> date:
    """The Monday of an ISO week given as ``2026-W48``.

    Raises:
        UserInputError: the text is not an ISO week.
    """
    match = _WEEK.match(text.strip())
    if not match:
        raise UserInputError(f"{text!r} is not an ISO week like 2026-W48", parameter="week")
    try:
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise UserInputError(f"{text!r}: {exc}", parameter="week") from exc


def find_previous_recommendations(cluster_dir: Path, week: str) -> Path | None:
    """The newest ``recommendations.json`` of a week before ``week`` in a cluster's folder.

    Normally last week's folder; when a week was skipped, the newest earlier one.
    """
    if not cluster_dir.is_dir():
        return None
    current = parse_week(week)
    earlier = []
    for child in cluster_dir.iterdir():
        if not child.is_dir() or not _WEEK.match(child.name):
            continue
        monday = parse_week(child.name)
        file = child / "recommendations.json"
        if monday < current and file.is_file():
            earlier.append((monday, file))
    return max(earlier)[1] if earlier else None


# --- notebooks ---------------------------------------------------------------------------------


def notebook_path(name: str) -> Path:
    """Where a shipped notebook is: inside the installed package, else in the checkout.

    Raises:
        OutputError: the notebook is in neither place.
    """
    try:
        candidate = resources.files("kianax_capacity.notebooks").joinpath(f"{name}.ipynb")
        if candidate.is_file():
            return Path(str(candidate))
    except ModuleNotFoundError:
        pass  # running from a checkout: notebooks/ is a top-level folder there
    checkout = Path(__file__).resolve().parents[2] / "notebooks" / f"{name}.ipynb"
    if checkout.is_file():
        return checkout
    raise OutputError(
        f"notebook {name}.ipynb not found in the package or {checkout.parent}; reinstall kianax-capacity"
    )


def check_parameters(path: Path, parameters: Mapping[str, Any]) -> None:
    """Check a notebook's parameters cell declares exactly the parameters a run passes.

    Raises:
        NotebookError: naming the notebook, the missing and the unexpected parameters.
    """
    papermill = import_optional("papermill", extra="report")

    try:
        declared = papermill.inspect_notebook(str(path))
    except Exception as exc:  # papermill raises several types for an unreadable notebook
        raise NotebookError(f"{path.name}: cannot read its parameters ({exc})") from exc
    if not declared:
        raise NotebookError(
            f"{path.name}: no cell tagged 'parameters'; tag the cell that declares "
            f"{', '.join(parameters)}"
        )
    missing = sorted(set(declared) - set(parameters))
    unexpected = sorted(set(parameters) - set(declared))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"declares {', '.join(missing)} that the report does not pass")
        if unexpected:
            parts.append(f"lacks {', '.join(unexpected)} that the report passes")
        raise NotebookError(
            f"{path.name}: parameters cell "
            + " and ".join(parts)
            + f"; its parameters cell must declare exactly: {', '.join(sorted(parameters))}"
        )


def _kernel_manager_class() -> type:
    """A kernel manager that always starts ipykernel with this process's Python.

    The "python3" kernelspec may point at another interpreter (a global Jupyter install, a
    different venv); the report must run with the interpreter, and so the packages, of the CLI.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    package_root = str(Path(__file__).resolve().parents[2])

    class SamePythonKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:
            path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
            return KernelSpec(
                # The kernel logs a transport warning on every start; cell errors still reach us.
                argv=[
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                    "--IPKernelApp.log_level=CRITICAL",
                ],
                display_name="kianax-capacity (this Python)",
                language="python",
                env={"PYTHONPATH": path, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
            )

    return SamePythonKernelManager


def run_notebook(
    name: str,
    parameters: Mapping[str, Any],
    *,
    source: Path | None = None,
    timeout_seconds: float = 600,
) -> Any:
    """Execute one notebook with papermill and return the executed notebook node.

    The kernel runs in this process's working folder: papermill's ``cwd`` changes the folder of
    the whole process, which races when notebooks run in parallel threads, so every path a
    notebook gets is absolute instead.

    Raises:
        NotebookError: parameters do not match, or a cell raised (naming notebook and cell).
    """
    papermill = import_optional("papermill", extra="report")
    from papermill.exceptions import PapermillExecutionError

    path = source or notebook_path(name)
    check_parameters(path, parameters)
    try:
        return papermill.execute_notebook(
            str(path),
            None,
            parameters=dict(parameters),
            kernel_name="python3",
            kernel_manager_class=_kernel_manager_class(),
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout_seconds,
        )
    except PapermillExecutionError as exc:
        source_line = next((ln for ln in str(exc.source).splitlines() if ln.strip()), "")
        raise NotebookError(
            f"notebook {path.name} failed in cell {exc.exec_count} (`{source_line[:80]}`): "
            f"{exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}"
        ) from exc
    except Exception as exc:  # kernel died, timeout, unreadable notebook
        if isinstance(exc, NotebookError):
            raise
        raise NotebookError(
            f"notebook {path.name} could not run: {type(exc).__name__}: {exc}"
        ) from exc


def render_html(notebook: Any, title: str) -> str:
    """The executed notebook as a standalone HTML page with the code hidden."""
    exporter_class = import_optional("nbconvert", extra="report").HTMLExporter
    exporter = exporter_class(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    # The template and plotly's notebook renderer load require.js and MathJax from a CDN; the
    # report needs neither (plotly.js is embedded, no formulas) and must render offline.
    return _EXTERNAL_SCRIPT.sub("", str(body))


def _error_outputs(notebook: Any) -> list[str]:
    """Cells that show an error or a traceback (papermill raises on most; this catches the rest)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" or "Traceback (most recent call last)" in str(
                output.get("text", "")
            ):
                found.append(f"cell {index}")
    return found


# --- locking -----------------------------------------------------------------------------------


@contextlib.contextmanager
def report_lock(
    path: Path, timeout_seconds: float = 0.0, poll_seconds: float = 0.5
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the duration of the block.

    Args:
        timeout_seconds: 0 = refuse at once when another run holds it; otherwise wait that long.

    Raises:
        ReportLockedError: the lock is held by another run.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    except OSError as exc:
        raise OutputError(
            f"cannot create the report lock {path}: {exc.strerror or exc}; choose a writable "
            "folder",
            parameter="out_dir",
        ) from exc
    deadline = time.monotonic() + timeout_seconds
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"cannot lock {path}: {exc.strerror}") from exc
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another run"
                    raise ReportLockedError(
                        f"{path.parent.name}/{path.stem.lstrip('.')} is being built by {holder}; "
                        "wait for it or give a lock timeout in seconds",
                        parameter="lock_timeout_seconds",
                    ) from None
                time.sleep(poll_seconds)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        yield
    finally:
        handle.close()


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportResult:
    """Where a report was written and what it holds."""

    folder: Path
    cluster: str
    week: str
    notebooks: tuple[str, ...]
    previous: Path | None
    seconds: float


def build_report(
    snapshot: Snapshot,
    snapshot_dir: Path,
    recommendations: RecommendationSet,
    out_dir: Path,
    *,
    week: str | None = None,
    previous: Path | None = None,
    notebooks: Sequence[str] | None = None,
    notebook_sources: Mapping[str, Path] | None = None,
    lock_timeout_seconds: float = 0.0,
    parallel: int = 2,
    move_snapshot: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Run every notebook on a snapshot and its recommendations and publish the week's folder.

    Args:
        snapshot: the loaded snapshot (for cluster, window and the default week).
        snapshot_dir: its folder, copied (or moved, with ``move_snapshot``) into the report.
        recommendations: the recommendation set written as ``recommendations.json``.
        out_dir: the reports root.
        week: ISO week; default the week of the snapshot window's end.
        previous: last week's ``recommendations.json``; default found in ``out_dir``.
        notebooks: names to run (default :data:`NOTEBOOKS`).
        notebook_sources: name -> notebook file, to run other notebooks (tests).
        lock_timeout_seconds: how long to wait for another run of the same week.
        parallel: notebooks run at once (each in its own kernel).
        move_snapshot: move ``snapshot_dir`` instead of copying it (a fetched temporary folder).

    Raises:
        NotebookError: a notebook failed; nothing was replaced.
        ReportLockedError: another run holds the week.
    """
    started = time.monotonic()
    out_dir = out_dir.resolve()
    snapshot_dir = snapshot_dir.resolve()
    if previous is not None:
        previous = previous.resolve()
    say = progress or (lambda message: log.info("%s", message))
    cluster = snapshot.cluster
    if not _SAFE_NAME.match(cluster):
        raise UserInputError(
            f"{cluster!r} cannot be a folder name; give a cluster name of letters, digits, "
            "'.', '_' and '-'",
            parameter="cluster",
        )
    week = week or window_week(snapshot.window[1])
    parse_week(week)
    names = list(notebooks or NOTEBOOKS)
    sources = dict(notebook_sources or {})
    cluster_dir = out_dir / cluster
    target = cluster_dir / week
    with report_lock(cluster_dir / f".{week}.lock", lock_timeout_seconds):
        if previous is None:
            previous = find_previous_recommendations(cluster_dir, week)
        # Check every notebook's parameters before running any: a mismatch fails in a second.
        for name in names:
            check_parameters(
                sources.get(name) or notebook_path(name),
                _parameters(name, Path("x"), week, recommendations, previous),
            )
        try:
            with atomic_directory(target, argument="out_dir") as tmp:
                if move_snapshot:
                    os.rename(snapshot_dir, tmp / "snapshot")
                else:
                    shutil.copytree(snapshot_dir, tmp / "snapshot")
                recommendations.write(tmp / "recommendations.json")
                if previous is not None:
                    shutil.copyfile(previous, tmp / "previous-recommendations.json")
                    previous_in_report: Path | None = tmp / "previous-recommendations.json"
                else:
                    previous_in_report = None

                def one(name: str) -> str:
                    say(f"running {name}.ipynb")
                    executed = run_notebook(
                        name,
                        _parameters(name, tmp, week, recommendations, previous_in_report),
                        source=sources.get(name),
                    )
                    errors = _error_outputs(executed)
                    if errors:
                        raise NotebookError(
                            f"notebook {name}.ipynb shows an error output in {', '.join(errors)}"
                        )
                    title = f"{NOTEBOOKS.get(name, name)} · {cluster} · {week}"
                    (tmp / f"{name}.html").write_text(
                        render_html(executed, title), encoding="utf-8"
                    )
                    return name

                with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                    done = list(pool.map(one, names))
                (tmp / "index.html").write_text(
                    _week_index(snapshot, recommendations, week, done, previous is not None),
                    encoding="utf-8",
                )
        except OSError as exc:
            # A full disk or a read-only folder: atomic_directory already removed the partial
            # week, so the previous report stands; say so in one line.
            raise OutputError(
                f"cannot write the report to {target}: {exc.strerror or exc}; the previous "
                "report is unchanged"
            ) from exc
    write_top_index(out_dir)
    return ReportResult(
        folder=target,
        cluster=cluster,
        week=week,
        notebooks=tuple(done),
        previous=previous,
        seconds=time.monotonic() - started,
    )


def _parameters(
    name: str, folder: Path, week: str, recommendations: RecommendationSet, previous: Path | None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "snapshot": str(folder / "snapshot"),
        "recommendations": str(folder / "recommendations.json"),
        "cluster": recommendations.cluster,
        "week": week,
        "profile": recommendations.profile,
    }
    if "previous_recommendations" in _EXTRA_PARAMETERS.get(name, ()):
        values["previous_recommendations"] = str(previous) if previous else ""
    return values


_STYLE = """
body { font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 60rem; color: #1d2733; line-height: 1.5; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #5b6673; margin-top: 0; }
a { color: #0b5cad; } table { border-collapse: collapse; margin: 1rem 0; }
td, th { padding: 0.35rem 0.8rem; border-bottom: 1px solid #e3e8ee; text-align: left; }
.primary { font-size: 1.15rem; font-weight: 600; }
"""


def page(title: str, body: str, extra_style: str = "") -> str:
    """A standalone HTML page in the reports' style (no external resources)."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}{extra_style}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _week_index(
    snapshot: Snapshot,
    recommendations: RecommendationSet,
    week: str,
    notebooks: Sequence[str],
    has_previous: bool,
) -> str:
    start, end = snapshot.window
    rows = "".join(
        f"<tr><td><a class='{'primary' if name == 'weekly_report' else ''}' href='{name}.html'>"
        f"{html.escape(NOTEBOOKS.get(name, name))}</a></td></tr>"
        for name in notebooks
    )
    files = [
        ("recommendations.json", "recommendations (schema v1, raw JSON)"),
        ("snapshot/manifest.json", "snapshot manifest"),
    ]
    if has_previous:
        files.append(
            ("previous-recommendations.json", "last week's recommendations (compared against)")
        )
    file_rows = "".join(
        f"<tr><td><a href='{href}'>{html.escape(href)}</a></td><td>{html.escape(text)}</td></tr>"
        for href, text in files
    )
    body = (
        f"<p><a href='../../index.html'>← all reports</a></p>"
        f"<h1>{html.escape(snapshot.cluster)} · {html.escape(week)}</h1>"
        f"<p class='meta'>window {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC · "
        f"profile {html.escape(recommendations.profile)} · source {html.escape(snapshot.manifest.source)} · "
        f"generated {recommendations.generated_at:%Y-%m-%d %H:%M} UTC</p>"
        f"<h2>Reports</h2><table>{rows}</table><h2>Data</h2><table>{file_rows}</table>"
    )
    return page(f"{snapshot.cluster} {week}", body)


def write_top_index(out_dir: Path) -> Path:
    """(Re)write ``out_dir/index.html`` listing every cluster's weeks, newest first."""
    entries = []
    if out_dir.is_dir():
        for cluster_dir in sorted(
            p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            for week_dir in cluster_dir.iterdir():
                if (
                    week_dir.is_dir()
                    and _WEEK.match(week_dir.name)
                    and (week_dir / "index.html").is_file()
                ):
                    entries.append((cluster_dir.name, week_dir.name, week_dir))
    entries.sort(key=lambda e: (e[0], parse_week(e[1])), reverse=False)
    by_cluster: dict[str, list[tuple[str, Path]]] = {}
    for cluster, week, folder in entries:
        by_cluster.setdefault(cluster, []).append((week, folder))
    sections = []
    for cluster, weeks in by_cluster.items():
        items = []
        for week, folder in sorted(weeks, key=lambda w: parse_week(w[0]), reverse=True):
            summary = _summary_line(folder / "recommendations.json")
            items.append(
                f"<tr><td><a href='{html.escape(cluster)}/{week}/index.html'>{week}</a></td>"
                f"<td><a href='{html.escape(cluster)}/{week}/weekly_report.html'>weekly report</a></td>"
                f"<td>{html.escape(summary)}</td></tr>"
            )
        sections.append(f"<h2>{html.escape(cluster)}</h2><table>{''.join(items)}</table>")
    fleet = _fleet_section(out_dir, by_cluster) if len(by_cluster) > 1 else ""
    body = "<h1>kianax-capacity reports</h1>" + (
        fleet + "".join(sections) or "<p>No reports yet.</p>"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    tmp = out_dir / f".index.html.{os.getpid()}"
    tmp.write_text(page("kianax-capacity reports", body), encoding="utf-8")
    os.replace(tmp, target)
    return target


def _fleet_section(out_dir: Path, by_cluster: Mapping[str, list[tuple[str, Path]]]) -> str:
    """Fleet totals per week (weeks that two or more clusters report), linking the fleet pages."""
    from kianax_capacity.outputs.fleet import (
        FLEET_DIR,
        cluster_figures,
        fleet_totals,
        load_fleet_recommendations,
        week_files,
    )

    weeks = sorted(
        {week for weeks in by_cluster.values() for week, _ in weeks},
        key=parse_week,
        reverse=True,
    )
    rows = []
    for week in weeks:
        files = week_files(out_dir, week)
        if len(files) < 2:
            continue
        try:
            data = load_fleet_recommendations(files)
        except UserInputError:
            continue  # a damaged file: the cluster's own line says so
        totals = fleet_totals([cluster_figures(d) for d in data.values()])
        link = (
            f"<a href='{FLEET_DIR}/{week}.html'>{week}</a>"
            if (out_dir / FLEET_DIR / f"{week}.html").is_file()
            else week
        )
        rows.append(
            f"<tr><td>{link}</td><td>{html.escape(', '.join(data))}</td>"
            f"<td>${totals.monthly_cost_usd:,.0f}</td><td>${totals.monthly_savings_usd:,.0f}</td>"
            f"<td>${totals.idle_monthly_usd:,.0f}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h2>Fleet</h2><table><tr><th>week</th><th>clusters</th><th>cost/month</th>"
        "<th>savings on offer/month</th><th>idle/month</th></tr>" + "".join(rows) + "</table>"
    )


def _summary_line(file: Path) -> str:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return ""
    summary = data.get("summary") or {}
    parts = []
    if isinstance(summary.get("monthly_cost_usd"), int | float):
        parts.append(f"cost ${summary['monthly_cost_usd']:,.0f}/month")
    if isinstance(summary.get("monthly_savings_usd"), int | float):
        parts.append(f"savings ${summary['monthly_savings_usd']:,.0f}/month")
    parts.append(f"{len(data.get('rightsizing') or [])} containers")
    return " · ".join(parts)


def default_generated_at() -> datetime:
    """Now, to the second (what a report run stamps on its recommendations)."""
    return datetime.now(UTC).replace(microsecond=0)


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of an ISO week and of the next one."""
    monday = parse_week(week)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)
