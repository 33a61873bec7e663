"""The ``kianax-capacity`` console script.

Each subcommand lives in its own module with ``register(subparsers)``; this module wires them,
handles the global flags and turns :class:`KianaxCapacityError` into one line on stderr with the
error's exit code (2 user input, 1 source or output failure). Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kianax_capacity import __version__
from kianax_capacity.cli import (
    apply_cmd,
    backtest_cmd,
    comment_cmd,
    demo_data_cmd,
    diff_cmd,
    fetch_cmd,
    recommend_cmd,
    report_cmd,
)
from kianax_capacity.cli._common import OneLineArgumentParser
from kianax_capacity.errors import KianaxCapacityError

__all__ = ["build_parser", "main"]

_COMMANDS = (
    fetch_cmd,
    recommend_cmd,
    report_cmd,
    diff_cmd,
    apply_cmd,
    comment_cmd,
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.WARNING if args.quiet else logging.INFO),
        format="%(levelname)s %(name)s: %(message)s" if args.debug else "%(message)s",
        stream=sys.stderr,
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
        print(f"kianax-capacity: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kianax-capacity: interrupted; nothing was replaced", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
