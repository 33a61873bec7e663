"""Helpers of the fault suite: run the CLI as a person does, check one-line errors, hash trees."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from tests.helpers import REPO, run_cli

__all__ = ["REPO", "run_cli"]


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], exit_code: int, *expected: str
) -> str:
    """The single stderr line of a failed run, after checking its exit code and wording."""
    assert result.returncode == exit_code, (result.returncode, result.stderr[-3000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    line = lines[0]
    assert line.startswith("kianax-capacity"), line
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in line, (text, line)
    return line


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (folders as ``/``)."""
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    digest: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        digest[key] = "/" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def run_main(*args: str) -> subprocess.CompletedProcess[str]:
    """``kianax-capacity ARGS`` through :func:`kianax_capacity.cli.main` in this process.

    The same code path as the console script without a new interpreter (a second each), for
    the errors that are raised before any heavy work. Returns what ``run_cli`` would.
    """
    import contextlib
    import io

    from kianax_capacity.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def run_cli_parallel(*runs: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Several CLI runs at once (independent commands; saves interpreter start-up time)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        return list(pool.map(lambda args: run_cli(*args), runs))
