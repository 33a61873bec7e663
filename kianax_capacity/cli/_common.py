"""Shared CLI plumbing: one-line argument errors, config loading, progress bars."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

from kianax_capacity.config import Config, load_config
from kianax_capacity.errors import UserInputError


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (and exit code 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


#: Library arguments whose CLI flag is not their name with dashes.
_FLAG_OF = {
    "url": "--prometheus-url",
    "insecure_skip_verify": "--insecure",
    "namespace_regex": "--namespace",
    "apps_dir": "--argocd",
}


def flag_speller(flags: frozenset[str]) -> Callable[[str], str | None]:
    """How a command spells a library argument: its flag, or None when it has none.

    ``flags`` are the command's own (``args.command_flags``); the result is the ``spell`` of
    :func:`kianax_capacity.errors.respell` and ``KianaxCapacityError.render``.
    """

    def spell(name: str) -> str | None:
        # A library parameter carries its unit (lock_timeout_seconds); its flag may not.
        for flag in (
            _FLAG_OF.get(name),
            "--" + name.replace("_", "-"),
            "--" + name.removesuffix("_seconds").replace("_", "-"),
        ):
            if flag in flags:
                return flag
        return None

    return spell


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def parse_end(text: str | None) -> datetime | None:
    """``--end`` as an aware UTC datetime; naive times are taken as UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UserInputError(
            f"--end {text!r} is not an ISO 8601 time (e.g. 2026-11-23T00:00:00Z)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Progress:
    """A thin wrapper on rich's progress bar that is silent with --quiet or off a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Any]:
        if not self.enabled:
            yield lambda advance=1: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        with RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            task_id = progress.add_task(description, total=total)
            yield lambda advance=1: progress.advance(task_id, advance)


def progress_from_args(args: argparse.Namespace) -> Progress:
    return Progress(enabled=not getattr(args, "quiet", False) and sys.stderr.isatty())
