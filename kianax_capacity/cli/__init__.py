"""The ``kianax-capacity`` console script.

Each subcommand lives in its own module with ``register(subparsers)``; this module wires them,
handles the global flags and turns :class:`KianaxCapacityError` into one line on stderr with the
error's exit code (2 user input, 1 source or output failure). Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence

from kianax_capacity import __version__
from kianax_capacity.cli import (
    apply_cmd,
    backtest_cmd,
    comment_cmd,
    demo_data_cmd,
    diff_cmd,
    doctor_cmd,
    export_cmd,
    fetch_cmd,
    recommend_cmd,
    report_cmd,
)
from kianax_capacity.cli._common import OneLineArgumentParser, flag_speller
from kianax_capacity.errors import KianaxCapacityError

__all__ = ["build_parser", "main"]

_COMMANDS = (
    doctor_cmd,
    fetch_cmd,
    recommend_cmd,
    report_cmd,
    diff_cmd,
    apply_cmd,
    comment_cmd,
    export_cmd,
    backtest_cmd,
    demo_data_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="kianax-capacity",
        description="What your EKS capacity costs, how much of it you use, and what to change.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: ./kianax-capacity.toml if present)",
    )
    parser.add_argument("--debug", action="store_true", help="debug logging and full tracebacks")
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bars or info output"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser
    )
    subparsers.required = True
    for module in _COMMANDS:
        module.register(subparsers)
    for command in subparsers.choices.values():
        _add_global_flags(command)
    for command in subparsers.choices.values():
        # argparse lists a parser's options only on its private _actions.
        flags = frozenset(option for action in command._actions for option in action.option_strings)
        command.set_defaults(command_flags=flags)
    return parser


def _add_global_flags(command: argparse.ArgumentParser) -> None:
    """--config, --debug and --quiet after the subcommand too (``fetch ... --quiet``).

    ``SUPPRESS`` as the default: a subcommand that was not given the flag leaves the value the
    main parser set (before the subcommand) alone instead of resetting it.
    """
    group = command.add_argument_group("global options (also accepted before the command)")
    group.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logging and full tracebacks",
    )
    group.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bars or info output",
    )


def _cli_message(exc: KianaxCapacityError, flags: frozenset[str]) -> str:
    """The error as the CLI user knows its arguments: under their flags, where they have one."""
    return exc.render(flag_speller(flags))


#: Environment variables whose values are secrets by name (tokens, passwords, AWS keys).
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|API_KEY|CREDENTIAL", re.I)
#: What botocore's and urllib3's DEBUG logs print of a signed AWS request.
_AWS_HEADER_SECRETS = re.compile(
    r"(Credential=|Signature=|X-Amz-Security-Token['\"]?:\s*b?['\"]|X-Amz-Credential=)[^,'\"&\s/]+",
    re.I,
)


def _secret_values(args: argparse.Namespace) -> tuple[str, ...]:
    """Every secret this run may hold: the environment's tokens, passwords and keys."""
    names = {name for name in os.environ if _SECRET_NAME.search(name)}
    names |= {
        name
        for name in (
            getattr(args, "bearer_token_env", None),
            getattr(args, "basic_password_env", None),
        )
        if name
    }
    values = {os.environ.get(name, "").strip() for name in names}
    # Longest first, so a secret that contains another is replaced whole.
    return tuple(sorted((v for v in values if len(v) >= 6), key=len, reverse=True))


class _RedactingFormatter(logging.Formatter):
    """Log lines with every known secret replaced by ``<redacted>``.

    With --debug, botocore logs each request's headers (the AWS access key id and the session
    token) and libraries may log URLs: secrets must not reach a terminal or a CI log anyway.
    """

    def __init__(self, fmt: str, secrets: tuple[str, ...]) -> None:
        super().__init__(fmt)
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return _AWS_HEADER_SECRETS.sub(r"\1<redacted>", text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _RedactingFormatter(
            "%(levelname)s %(name)s: %(message)s" if args.debug else "%(message)s",
            _secret_values(args),
        )
    )
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.WARNING if args.quiet else logging.INFO),
        handlers=[handler],
    )
    if not args.debug:
        # Third-party libraries are chatty at INFO; their messages matter only when debugging.
        for noisy in ("botocore", "boto3", "urllib3", "papermill", "traitlets", "matplotlib"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        result = args.func(args)
    except KianaxCapacityError as exc:
        if args.debug:
            raise
        print(f"kianax-capacity: error: {_cli_message(exc, args.command_flags)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kianax-capacity: interrupted; nothing was replaced", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
