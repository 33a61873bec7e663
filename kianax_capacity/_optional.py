"""Optional dependencies: a part that needs one fails only when used, naming the exact fix.

The core (fetch from Prometheus or the demo, recommend on the embedded prices, diff, apply) needs
none of these. Live AWS data needs ``boto3`` (extra ``aws``); charts, notebooks and the HTML
report need plotly, papermill and nbconvert (extra ``report``); ``export`` to Prometheus needs
``prometheus_client`` (extra ``metrics``). As in papermill, the error says
which ``pip install`` brings the missing part.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kianax_capacity.errors import MissingDependencyError

__all__ = ["EXTRAS", "import_optional", "missing_dependency", "require_extra"]

#: extra -> (what it enables, the distributions it installs)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws": ("live AWS prices, billed costs, EC2 node facts and S3 uploads", ("boto3",)),
    "report": (
        "charts, notebooks and the weekly HTML report",
        ("plotly", "papermill", "nbconvert", "nbformat", "ipykernel"),
    ),
    "metrics": (
        "recommendations as Prometheus metrics (textfile and Pushgateway)",
        ("prometheus_client",),
    ),
    "dashboard": (
        "rebuilding the Grafana dashboard from code (the built JSON ships without it)",
        ("grafana_foundation_sdk",),
    ),
}


def missing_dependency(module: str, *, extra: str) -> MissingDependencyError:
    """The error for ``module`` not being importable, with the ``pip install`` that fixes it."""
    feature, _ = EXTRAS[extra]
    package = module.split(".")[0]
    return MissingDependencyError(
        f"{feature} need the {package!r} package, which is not installed: "
        f"pip install 'kianax-capacity[{extra}]'"
    )


def import_optional(module: str, *, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingDependencyError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_dependency(module, extra=extra) from exc


def require_extra(extra: str) -> None:
    """Check every package of ``extra`` imports, before a command starts work that needs it."""
    for module in EXTRAS[extra][1]:
        import_optional(module, extra=extra)
