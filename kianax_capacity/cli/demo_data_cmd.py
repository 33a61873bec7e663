"""`kianax-capacity demo-data`."""

from __future__ import annotations

import argparse
from typing import Any

from kianax_capacity.errors import NotBuiltError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo-data", help="(not built yet)", description="Not built yet."
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotBuiltError("`demo-data` is not built yet in this release")
