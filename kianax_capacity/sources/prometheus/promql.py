"""PromQL templates from ``queries/*.promql`` (the top-level folder, package ``kianax_capacity.queries``) and safe rendering of what the user gives.

Every query kianax-capacity sends lives in a ``.promql`` file with named parameters written
``{{name}}``. Parameters are PromQL fragments this module builds (label matchers, durations,
numbers, a function name from an allow-list); text the user typed (a namespace regex, a cluster
name, a label name) only reaches a query through :func:`label_matcher`, which quotes and
escapes it, so a value like ``a"} or vector(1) #`` stays a string and cannot change the query.

Example:
    >>> sel = Selector.build(namespace_regex="kianax|monitoring")
    >>> render("pod_info", selector=sel.namespaced, window="3600s")
    'max by (namespace, pod, node) ( last_over_time(kube_pod_info{ namespace=~"kianax|monitoring", }[3600s]) )'
"""

from __future__ import annotations

import importlib.resources
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from kianax_capacity.errors import UserInputError

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "QUERY_NAMES",
    "ROLLUP_FUNCTIONS",
    "Selector",
    "check_label_name",
    "check_regex",
    "format_duration",
    "label_matcher",
    "load_template",
    "quote_string",
    "render",
    "rollup_arguments",
    "template_parameters",
]

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# RE2 (what Prometheus and VictoriaMetrics compile) has no lookaround and no backreferences;
# Python's re accepts both, so reject them here rather than let the server answer 400.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")

#: Rollups over a range that PromQL and MetricsQL share (also the names ``aggr_over_time`` takes).
ROLLUP_FUNCTIONS = frozenset(
    {"max_over_time", "min_over_time", "avg_over_time", "count_over_time", "sum_over_time"}
)
#: Functions the aggregate templates accept in their ``{{function}}`` slot. The last two are
#: MetricsQL (VictoriaMetrics): several statistics from one pass over the samples.
AGGREGATE_FUNCTIONS = ROLLUP_FUNCTIONS | {
    "quantile_over_time",
    "quantiles_over_time",
    "aggr_over_time",
    "deriv",  # the leak screen's per-day working-set slope (aggregate_memory_slope)
}


#: The templates: package data beside this module, so an installed wheel, an editable install
#: and a bare checkout on PYTHONPATH all read the same files the same way.
# queries/ is a top-level folder of the checkout, shipped in the wheel as kianax_capacity.queries.
_TEMPLATES = importlib.resources.files("kianax_capacity.queries")


@cache
def load_template(name: str) -> str:
    """The text of ``queries/<name>.promql`` with comment lines removed and lines joined.

    Raises:
        KeyError: there is no template of that name (a programming error, not user input).
    """
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise KeyError(name)
    resource = _TEMPLATES.joinpath(f"{name}.promql")
    if not resource.is_file():
        raise KeyError(f"no PromQL template {name!r}")
    text = resource.read_text(encoding="utf-8")
    # Whole-line comments only: a '#' inside a line could sit in a string literal.
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("#"))


#: Every template shipped, by name (``queries/<name>.promql``).
QUERY_NAMES: tuple[str, ...] = tuple(
    sorted(p.name[: -len(".promql")] for p in _TEMPLATES.iterdir() if p.name.endswith(".promql"))
)


def template_parameters(name: str) -> frozenset[str]:
    """The ``{{parameters}}`` that template ``name`` needs."""
    return frozenset(_PLACEHOLDER.findall(load_template(name)))


def render(name: str, **params: str) -> str:
    """Fill template ``name`` with ``params``; every placeholder must be given, no extras.

    Values are inserted verbatim: they must be fragments built by this module
    (:class:`Selector`, :func:`format_duration`), never raw user text.

    Raises:
        KeyError: unknown template.
        ValueError: a parameter is missing or unexpected (a programming error).
    """
    text = load_template(name)
    wanted = template_parameters(name)
    missing = wanted - params.keys()
    extra = params.keys() - wanted
    if missing or extra:
        raise ValueError(
            f"template {name}: missing {sorted(missing)} / unexpected {sorted(extra)} parameters"
        )
    if "function" in params and params["function"] not in AGGREGATE_FUNCTIONS:
        raise ValueError(f"template {name}: function {params['function']!r} is not allowed")
    return _PLACEHOLDER.sub(lambda m: params[m.group(1)], text)


def rollup_arguments(
    *, quantiles: Sequence[float] = (), label: str | None = None, rollups: Sequence[str] = ()
) -> str:
    """The leading arguments of an aggregate template's ``{{function}}``, ending in ``", "``.

    One quantile gives ``quantile_over_time``'s ``0.95, ``; a ``label`` and several quantiles
    give MetricsQL ``quantiles_over_time``'s ``"phi", 0.5, 0.95, ``; ``rollups`` give MetricsQL
    ``aggr_over_time``'s ``("max_over_time", "sum_over_time"), ``. No arguments: ``""``.

    Raises:
        ValueError: a quantile outside [0, 1], a rollup not in :data:`ROLLUP_FUNCTIONS`, a bad
            label name, or more than one kind of argument (programming errors).
    """
    if quantiles and rollups:
        raise ValueError("quantiles and rollups are arguments of different functions")
    for q in quantiles:
        if not (isinstance(q, int | float) and 0.0 <= q <= 1.0):
            raise ValueError(f"quantile {q!r} is not a number in [0, 1]")
    if rollups:
        unknown = sorted(set(rollups) - ROLLUP_FUNCTIONS)
        if unknown:
            raise ValueError(f"rollup(s) {unknown} are not allowed")
        return "(" + ", ".join(quote_string(name) for name in rollups) + "), "
    numbers = "".join(f"{q:g}, " for q in quantiles)
    if label is None:
        if len(quantiles) > 1:
            raise ValueError("several quantiles need a label to tell the answers apart")
        return numbers
    if not _LABEL_NAME.fullmatch(label):
        raise ValueError(f"label name {label!r} is not valid")
    return f"{quote_string(label)}, {numbers}"


def quote_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal (Go string escaping).

    Backslash, double quote and control characters are escaped, so the server reads back
    exactly ``value`` and nothing after the closing quote.

    Example:
        >>> quote_string('a"} or vector(1) #')
        '"a\\\\"} or vector(1) #"'
    """
    out = ['"']
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif 0xD800 <= code <= 0xDFFF:
            raise UserInputError(f"label value {value!r} holds a lone surrogate; not valid text")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def check_label_name(name: str, what: str = "label name") -> str:
    """``name`` if it is a valid Prometheus label name.

    Raises:
        UserInputError: it is not ``[a-zA-Z_][a-zA-Z0-9_]*``.
    """
    if not _LABEL_NAME.fullmatch(name):
        raise UserInputError(
            f"{what} {name!r} is not a Prometheus label name (letters, digits and _ only, "
            "not starting with a digit)"
        )
    return name


def check_regex(pattern: str, what: str = "regex") -> str:
    """``pattern`` if it compiles as a regular expression RE2 can also compile.

    Python's ``re`` is the sanity check; lookarounds and backreferences, which RE2 lacks, are
    rejected too.

    Raises:
        UserInputError: one line naming the pattern and the problem.
    """
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UserInputError(
            f"{what} {pattern!r} is not a valid regular expression: {exc}"
        ) from exc
    if _NOT_RE2.search(pattern):
        raise UserInputError(
            f"{what} {pattern!r} uses lookaround or a backreference, which Prometheus (RE2) "
            "does not support; rewrite it without them"
        )
    return pattern


def label_matcher(label: str, op: str, value: str) -> str:
    """One label matcher ``label op "value"`` with the label checked and the value escaped.

    For ``=~`` and ``!~`` the value is an RE2 regex (anchored by the server); it is validated,
    then string-escaped like any other value.

    Raises:
        UserInputError: bad label name or regex.
        ValueError: unknown operator (a programming error).
    """
    if op not in ("=", "!=", "=~", "!~"):
        raise ValueError(f"unknown matcher operator {op!r}")
    check_label_name(label)
    if op in ("=~", "!~"):
        check_regex(value, what=f"{label} regex")
    return f"{label}{op}{quote_string(value)}"


@dataclass(frozen=True)
class Selector:
    """Label matchers for the templates' ``{{selector}}`` and ``{{cluster_selector}}`` slots.

    Each renders as matchers followed by ``", "`` (or as nothing), so a template writes
    ``metric{ {{selector}}container!=""}`` and stays valid whether or not a filter is set.
    Namespaced series get the namespace and cluster filters; nodes only the cluster filter.
    """

    namespaced: str = ""
    cluster_only: str = ""

    @classmethod
    def build(
        cls,
        *,
        namespace_regex: str | None = None,
        cluster_label: str | None = None,
        cluster: str | None = None,
    ) -> Selector:
        """Matchers for a namespace regex and an optional ``cluster_label="cluster"`` filter.

        Raises:
            UserInputError: bad regex, bad label name, or a cluster label without a value.
        """
        cluster_part: list[str] = []
        if cluster_label:
            if not cluster:
                raise UserInputError(
                    f"the cluster label {cluster_label!r} needs the cluster's name (its value)",
                    parameter="cluster",
                )
            cluster_part.append(label_matcher(cluster_label, "=", cluster))
        namespace_part: list[str] = []
        if namespace_regex is not None:
            if not namespace_regex:
                raise UserInputError(
                    "is empty; give a regex such as 'kianax|argocd'", parameter="namespace_regex"
                )
            namespace_part.append(label_matcher("namespace", "=~", namespace_regex))
        return cls(
            namespaced="".join(f"{m}, " for m in (*namespace_part, *cluster_part)),
            cluster_only="".join(f"{m}, " for m in cluster_part),
        )


def format_duration(seconds: float) -> str:
    """A PromQL duration for ``seconds``: whole seconds as ``300s``, else milliseconds.

    Raises:
        ValueError: not a positive finite number.
    """
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a PromQL duration must be positive, got {seconds!r}")
    millis = round(seconds * 1000)
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    return f"{millis}ms"
