"""The exception tree of kianax-capacity.

Every error the tool raises on purpose derives from :class:`KianaxCapacityError`; third-party
errors (requests, botocore, pyarrow, ...) are translated at the boundary where they happen
(``raise SourceError(...) from exc``) so callers and the CLI only handle these::

    KianaxCapacityError
    ├── UserInputError            bad flag, config, path or file given by the user (CLI exit 2)
    │   ├── ConfigError           kianax-capacity.toml is malformed or has unknown keys
    │   ├── SnapshotError         a snapshot folder is missing, corrupt or from a newer version
    │   ├── RecommendationFileError  a recommendations.json that is not JSON or not schema v1
    │   ├── ReportLockedError     another run is building the same cluster and week
    │   ├── YamlEditError         a values file cannot be edited safely (alias, block scalar)
    │   └── MissingDependencyError  an optional part is used without its extra installed
    ├── SourceError               a data source failed: server down, HTTP error, timeout (exit 1)
    │   ├── PrometheusError
    │   │   └── QueryRejectedError  the server refused the query itself (HTTP 400/422)
    │   └── AwsError
    ├── OutputError               an output could not be written (disk full, permissions) (exit 1)
    │   ├── NotebookError         a report notebook failed to run or render
    │   └── GitHubError           the GitHub API refused or failed a request

Messages are one line: what failed, where, and how to fix it. They never contain secrets.
A library error about one argument names it as the library spells it (``parameter="week"``,
shown as ``week: ...``); the CLI shows the same error under its flag (``--week: ...``), so the
library never speaks of flags a notebook user does not have. A message that points at another
argument for the fix mentions it by its library name in backticks (``"pass `url` or set
[prometheus] url"``); an interface respells each mention it knows (:func:`respell`: the CLI
shows ``--prometheus-url``) and leaves the others as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "AwsError",
    "ConfigError",
    "GitHubError",
    "KianaxCapacityError",
    "MissingDependencyError",
    "NotebookError",
    "OutputError",
    "PrometheusError",
    "QueryRejectedError",
    "RecommendationFileError",
    "ReportLockedError",
    "SnapshotError",
    "SourceError",
    "UserInputError",
    "YamlEditError",
    "respell",
]

#: A mention of an argument in a message: its library name in backticks (`timeout_seconds`).
_MENTION = re.compile(r"`([a-z][a-z0-9_]*)`")


def respell(text: str, spell: Callable[[str], str | None]) -> str:
    """``text`` with each argument mention (```name```) that ``spell`` knows spelled its way.

    ``spell(name)`` returns how an interface writes the argument (a CLI flag), or None to leave
    the mention as the library wrote it.

    Example:
        >>> respell("pass `url` or set [prometheus] url", {"url": "--prometheus-url"}.get)
        'pass --prometheus-url or set [prometheus] url'
    """
    return _MENTION.sub(lambda match: spell(match.group(1)) or match.group(0), text)


class KianaxCapacityError(Exception):
    """Base of every error kianax-capacity raises on purpose.

    Args:
        message: what failed and how to fix it, one line.
        parameter: the argument (or config key) at fault, as the library names it, when the
            error is about one; interfaces show it under their own name for it.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def __str__(self) -> str:
        return f"{self.parameter}: {self.message}" if self.parameter else self.message

    def render(self, spell: Callable[[str], str | None]) -> str:
        """The message as an interface shows it: the parameter and every argument mention
        spelled by ``spell`` (a CLI flag; None keeps the library's name), see :func:`respell`."""
        message = respell(self.message, spell)
        if self.parameter is None:
            return message
        return f"{spell(self.parameter) or self.parameter}: {message}"


class UserInputError(KianaxCapacityError):
    """The user gave something unusable: a flag, a path, a config value or a file."""

    exit_code = 2


class ConfigError(UserInputError):
    """The configuration file is malformed, has unknown keys or invalid values."""


class SnapshotError(UserInputError):
    """A snapshot folder is missing, corrupt, incomplete or written by a newer version."""


class RecommendationFileError(UserInputError):
    """A recommendations.json is not JSON or does not match schema v1."""


class MissingDependencyError(UserInputError):
    """An optional part (AWS, charts, report) is used without the package it needs."""


class SourceError(KianaxCapacityError):
    """A data source (Prometheus, AWS) failed to answer usefully."""

    exit_code = 1


class PrometheusError(SourceError):
    """The Prometheus-compatible server failed: unreachable, HTTP error, timeout, bad body.

    Besides the one-line message, what failed as data, for callers that decide on it (retry,
    fall back, report): ``status`` (the HTTP status of the last answer, None when there was no
    answer), ``query`` (the name of the query, None for a probe of the server itself) and
    ``elapsed_seconds`` (how long the request took, all attempts included, None if unknown).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        query: str | None = None,
        elapsed_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.query = query
        self.elapsed_seconds = elapsed_seconds


class QueryRejectedError(PrometheusError):
    """The server refused the query itself (HTTP 400 or 422: bad_data), not a server failure."""


class AwsError(SourceError):
    """An AWS API call failed: credentials, permissions, throttling, region."""


class OutputError(KianaxCapacityError):
    """An output (snapshot, report, patch) could not be written."""

    exit_code = 1


class NotebookError(OutputError):
    """A notebook failed to run or render; the message names the notebook and the cell."""


class ReportLockedError(UserInputError):
    """Another run is building the same cluster and week."""


class GitHubError(OutputError):
    """The GitHub API refused or failed a request (bad token, no access, not found, 5xx)."""


class YamlEditError(UserInputError):
    """A values file cannot be edited safely (alias in the path, block scalar, not a mapping)."""
