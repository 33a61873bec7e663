"""One colour per namespace, node group and series role, the same in every chart and report.

A reader who learnt that ``kianax`` is blue on the cost chart must find it blue on the packing
chart too, so every chart asks this module and never picks colours itself. Known names have
fixed colours; any other name gets one from a colour-blind-safe qualitative palette chosen by a
stable hash of the name (not by its position in a legend, which changes week to week).
"""

from __future__ import annotations

import hashlib

__all__ = [
    "IDLE_COLOR",
    "QUALITATIVE",
    "ROLE_COLORS",
    "color_for",
    "colors_for",
]

#: Okabe-Ito plus a few Tableau tones: distinguishable with the common colour-vision deficiencies.
QUALITATIVE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#8C6D31",  # brown
    "#7F7F7F",  # grey
    "#17BECF",  # cyan
    "#9467BD",  # purple
    "#BCBD22",  # olive
)

IDLE_COLOR = "#C8C8C8"

_FIXED: dict[str, str] = {
    # namespaces of the Kianax platform
    "kianax": "#0072B2",
    "monitoring": "#E69F00",
    "argocd": "#CC79A7",
    "logging": "#009E73",
    "kube-system": "#8C6D31",
    "(idle)": IDLE_COLOR,
    "idle": IDLE_COLOR,
    # node groups
    "general-ng": "#0072B2",
    "system-ng": "#8C6D31",
    "jobs-ng": "#D55E00",
}

#: Colours for what a line means rather than whom it belongs to.
ROLE_COLORS: dict[str, str] = {
    "requested": "#9DB9D3",
    "used": "#0072B2",
    "recommended": "#D55E00",
    "limit": "#7F7F7F",
    "observed": "#333333",
    "current": "#7F7F7F",
    "forecast": "#0072B2",
    "interval": "rgba(0, 114, 178, 0.18)",
    "capacity": "#D55E00",
    "saturated": "rgba(213, 94, 0, 0.15)",
    "bounds": "#999999",
    "savings": "#009E73",
}


def color_for(name: str) -> str:
    """The colour of a namespace, node group or other named thing.

    Example:
        >>> color_for("kianax")
        '#0072B2'
        >>> color_for("payments") == color_for("payments")
        True
    """
    if name in _FIXED:
        return _FIXED[name]
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return QUALITATIVE[digest[0] % len(QUALITATIVE)]


def colors_for(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``{name: colour}`` for a legend."""
    return {name: color_for(name) for name in names}
