"""Kubernetes quantities at the edges, canonical units inside.

Inside the tool CPU is a float number of cores, memory an int number of bytes and money USD.
Kubernetes quantity strings (``250m``, ``512Mi``, ``1e9``) exist only where we read manifests or
write values for people and Helm charts.

Example:
    >>> parse_cpu("250m")
    0.25
    >>> parse_memory("1Gi")
    1073741824
    >>> format_cpu(0.1234)
    '124m'
    >>> format_memory(268435456)
    '256Mi'
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from kianax_capacity.errors import UserInputError

__all__ = [
    "GIB",
    "HOURS_PER_MONTH",
    "MIB",
    "format_cpu",
    "format_memory",
    "format_usd",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
    "parse_quantity",
    "round_cpu_up",
    "round_memory_up",
]

MIB = 1024**2
GIB = 1024**3
#: AWS and this tool price a month as 730 hours (8,760 h / 12).
HOURS_PER_MONTH = 730.0

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}

# A number (optionally signed, decimal or scientific) followed by an optional suffix.
_QUANTITY = re.compile(
    r"^\s*(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<suffix>[A-Za-z]*)\s*$"
)


def parse_quantity(text: str | float | int) -> Decimal:
    """Parse a Kubernetes quantity (``250m``, ``1.5Gi``, ``1e9``) into an exact Decimal.

    Raises:
        UserInputError: the text is not a Kubernetes quantity.
    """
    if isinstance(text, bool):
        raise UserInputError(f"not a Kubernetes quantity: {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise UserInputError(f"not a finite quantity: {text!r}")
        return Decimal(str(text))
    match = _QUANTITY.match(str(text))
    if match is None or match["suffix"] not in _SUFFIXES:
        raise UserInputError(
            f"not a Kubernetes quantity: {text!r} (expected e.g. 250m, 0.5, 256Mi, 1Gi, 1e9)"
        )
    # 'E' alone is exa, but '1e9' was consumed by the number pattern already.
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise UserInputError(f"not a Kubernetes quantity: {text!r}") from exc
    value = number * _SUFFIXES[match["suffix"]]
    if value < 0:
        raise UserInputError(f"a resource quantity cannot be negative: {text!r}")
    return value


def parse_cpu(text: str | float | int) -> float:
    """CPU quantity to cores: ``250m`` -> 0.25, ``2`` -> 2.0."""
    return float(parse_quantity(text))


def parse_memory(text: str | float | int) -> int:
    """Memory quantity to bytes, rounded up as Kubernetes does: ``256Mi`` -> 268435456."""
    return int(parse_quantity(text).to_integral_value(rounding="ROUND_CEILING"))


def round_cpu_up(cores: float, step_millicores: int = 1) -> float:
    """Round cores up to a whole number of ``step_millicores`` millicores (at least one step)."""
    if not math.isfinite(cores) or cores < 0:
        raise ValueError(f"cpu must be a finite, non-negative number of cores, got {cores!r}")
    millicores = max(1, math.ceil(round(cores * 1000, 6) / step_millicores)) * step_millicores
    return millicores / 1000


def round_memory_up(size_bytes: float, step_bytes: int = MIB) -> int:
    """Round bytes up to a whole number of ``step_bytes`` (default one MiB, at least one step)."""
    if not math.isfinite(size_bytes) or size_bytes < 0:
        raise ValueError(f"memory must be a finite, non-negative byte count, got {size_bytes!r}")
    return int(max(1, math.ceil(size_bytes / step_bytes)) * step_bytes)


def format_cpu(cores: float | None) -> str:
    """Cores as people write them: whole millicores below one core, plain cores above.

    ``0.25`` -> ``250m``; ``1.5`` -> ``1500m``; ``2.0`` -> ``2``; ``None`` -> ``-``.
    Values round up to the next millicore so a formatted request is never below the number.
    """
    if cores is None or (isinstance(cores, float) and math.isnan(cores)):
        return "-"
    millicores = math.ceil(round(cores * 1000, 6))
    if millicores % 1000 == 0 and millicores > 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_memory(size_bytes: float | None) -> str:
    """Bytes as people write them: ``Gi`` when whole, else ``Mi`` (rounded up), else bytes.

    ``268435456`` -> ``256Mi``; ``1073741824`` -> ``1Gi``; ``1500000000`` -> ``1431Mi``.
    """
    if size_bytes is None or (isinstance(size_bytes, float) and math.isnan(size_bytes)):
        return "-"
    size = int(math.ceil(size_bytes))
    if size == 0:
        return "0"
    if size % GIB == 0:
        return f"{size // GIB}Gi"
    if size >= MIB:
        return f"{math.ceil(size / MIB)}Mi"
    if size % 1024 == 0:
        return f"{size // 1024}Ki"
    return str(size)


def format_usd(amount: float | None, signed: bool = False) -> str:
    """USD for people: ``$1,234.50``; ``signed`` adds ``+``/``-``; ``None`` -> ``-``."""
    if amount is None or math.isnan(amount):
        return "-"
    if signed:
        sign = "+" if amount > 0 else ("-" if amount < 0 else "")
        return f"{sign}${abs(amount):,.2f}"
    return f"-${abs(amount):,.2f}" if amount < 0 else f"${amount:,.2f}"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Prometheus-style duration to seconds: ``5m`` -> 300, ``14d`` -> 1209600, ``1h30m``.

    Raises:
        UserInputError: the text is not a positive duration like ``5m``, ``14d`` or ``1h30m``.
    """
    cleaned = str(text).strip()
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match[1]) * _DURATION_SECONDS[match[2]]
        pos = match.end()
    if pos != len(cleaned) or not cleaned or total <= 0:
        raise UserInputError(
            f"not a duration: {text!r} (expected a positive Prometheus duration like 5m, 14d, 1h30m)"
        )
    return total
