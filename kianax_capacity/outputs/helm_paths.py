"""Where a chart's containers read their resources: a static reading of the chart's templates.

Helm's engine is not available here (no ``helm`` binary on the machines this runs on, and the
only Python binding bundles a 255 MB Go shared library), so the templates are *read*, not
rendered. The reading is deliberately narrow and refuses what it cannot follow:

* a workload is a template document whose ``kind:`` is Deployment, StatefulSet, DaemonSet, Job
  or CronJob; its name hint is the literal text and helper names of ``metadata.name``;
* a container is an item of ``containers:`` / ``initContainers:``; its name is the literal
  ``- name:`` with ``.Chart.Name``, ``.Values.<path>`` defaults and ``<chart>.name`` helpers
  resolved; anything else becomes a wildcard;
* the container's ``resources:`` block (the key line and every line under it, template lines
  included) names the values it reads: ``.Values.<path>``, ``$.Values.<path>``, a ``with``
  scope (``{{- with .Values.webhook.resources }} ... toYaml .``), a ``$var := .Values.x``
  binding, and bitnami's ``include "common.resources.preset" (dict "type" .Values.<path>)``;
* an HPA is a document of kind HorizontalPodAutoscaler; the prefix of its
  ``minReplicas``/``maxReplicas``/target keys is where autoscaling settings go.

Example:
    >>> paths = read_chart(Path("tests/fixtures/charts-corpus/cert-manager"))
    >>> sorted(site.resources for site in paths.containers if site.kind == "Deployment")[:2]
    ['cainjector.resources', 'resources']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kianax_capacity.outputs.yaml_edit import YamlEditError, load_data

__all__ = [
    "WORKLOAD_KINDS",
    "ChartPaths",
    "ContainerSite",
    "HpaSite",
    "read_chart",
    "read_templates",
    "resources_shaped",
]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
_RESOURCE_KEYS = {"requests", "limits", "claims"}
_HPA_KEYS = (
    "minReplicas",
    "maxReplicas",
    "targetCPUUtilizationPercentage",
    "targetMemoryUtilizationPercentage",
)
# Words of helper names and literals that say nothing about which workload a name is.
_GENERIC = {
    "common",
    "names",
    "name",
    "fullname",
    "chart",
    "release",
    "include",
    "template",
    "printf",
    "trunc",
    "trimsuffix",
    "default",
}

_ACTION = re.compile(r"{{-?(.*?)-?}}", re.S)
_VALUES_REF = re.compile(r"(\$?)\.Values((?:\.[A-Za-z_][\w-]*)+)")
_VAR_BIND = re.compile(r"\$(\w+)\s*:?=\s*\$?\.Values((?:\.[A-Za-z_][\w-]*)+)")
_VAR_REF = re.compile(r"\$(\w+)((?:\.[A-Za-z_][\w-]*)+)")
_PRESET = re.compile(r'"common\.resources\.preset"\s*\(dict\s+"type"\s+\$?\.Values((?:\.[\w-]+)+)')


@dataclass(frozen=True)
class ContainerSite:
    """One container of one workload template and the values that feed its resources.

    ``resources`` is the dotted values path (``webhook.resources``), or "" when the template's
    reading is ambiguous; ``why`` then says why.
    """

    template: str
    kind: str
    workload_hint: tuple[str, ...]
    name_pattern: str  # a regular expression over the container's rendered name
    name_literal: bool  # True when the name is fully known (no wildcard)
    resources: str
    preset: str = ""
    init: bool = False
    why: str = ""
    preset_default: str = ""  # the chart's default for ``preset`` (``nano``)

    def matches(self, container: str) -> bool:
        return re.fullmatch(self.name_pattern, container) is not None


@dataclass(frozen=True)
class HpaSite:
    """An HPA template and the values prefix of its replica bounds and targets."""

    template: str
    workload_hint: tuple[str, ...]
    prefix: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class ChartPaths:
    """What the templates of one chart read, from :func:`read_chart` or the shipped table."""

    chart: str
    version: str
    source: str  # "templates" | "table" | "config"
    containers: tuple[ContainerSite, ...] = ()
    hpas: tuple[HpaSite, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)


def resources_shaped(value: Any) -> bool:
    """A value a container's ``resources:`` can take: empty, or requests/limits/claims only."""
    if value is None or value == {}:
        return True
    return isinstance(value, dict) and set(value) <= _RESOURCE_KEYS


def _safe_load(text: str) -> Any:
    try:
        return load_data(text)
    except YamlEditError:
        return None


def _dig(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_action_only(line: str) -> bool:
    """A line holding only template actions (``{{- if ... }}``), no YAML of its own."""
    stripped = line.strip()
    return bool(stripped) and not _ACTION.sub("", stripped).strip()


def _words(text: str) -> tuple[str, ...]:
    return tuple(
        w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in _GENERIC and len(w) > 1
    )


class _Scope:
    """The ``with`` / ``range`` / variable context of one template document, line by line."""

    def __init__(self) -> None:
        self.stack: list[str | None] = []  # the dot of each open block (None: not .Values)
        self.variables: dict[str, str] = {}

    @property
    def dot(self) -> str | None:
        for entry in reversed(self.stack):
            if entry != "":
                return entry
        return None

    def feed(self, line: str) -> None:
        for action in _ACTION.findall(line):
            body = action.strip()
            for name, path in _VAR_BIND.findall(body):
                self.variables[name] = path.lstrip(".")
            word = body.split(None, 1)[0] if body else ""
            if word == "with":
                ref = _VALUES_REF.search(body)
                self.stack.append(ref.group(2).lstrip(".") if ref else None)
            elif word == "range":
                self.stack.append(None)
            elif word in ("if", "define", "block"):
                self.stack.append("")  # keeps the dot of the enclosing block
            elif word == "end" and self.stack:
                self.stack.pop()

    def references(self, text: str) -> list[str]:
        """Values paths named in ``text``: explicit, through variables, or through the dot."""
        found = [m.group(2).lstrip(".") for m in _VALUES_REF.finditer(text)]
        for name, rest in _VAR_REF.findall(text):
            if name in self.variables:
                found.append(f"{self.variables[name]}{rest}")
        dot = self.dot
        if dot and re.search(r"toYaml\s+\.(\s|\||\)|$)", text):
            found.append(dot)
        return found


def _resolve_name(
    raw: str,
    chart: str,
    defaults: Mapping[str, Any],
    helpers: Mapping[str, str | tuple[str, str]],
) -> tuple[str, bool]:
    """The container name as a regex and whether it is fully literal."""
    raw = raw.strip().strip("\"'")
    if not raw:
        return ".+", False
    pieces: list[str] = []
    literal = True
    position = 0
    for match in _ACTION.finditer(raw):
        pieces.append(re.escape(raw[position : match.start()]))
        position = match.end()
        body = match.group(1).strip()
        value: str | None = None
        if body in (".Chart.Name", "$.Chart.Name"):
            value = chart
        elif (ref := _VALUES_REF.fullmatch(body)) is not None:
            default = _dig(defaults, ref.group(2).lstrip("."))
            value = default if isinstance(default, str) and default else None
        elif (inc := re.fullmatch(r'(?:include|template)\s+"([^"]+)"\s+\$?\.', body)) is not None:
            helper = helpers.get(inc.group(1))
            if isinstance(helper, tuple):
                default = _dig(defaults, helper[0])
                value = default if isinstance(default, str) and default else helper[1]
            else:
                value = helper
        if value is None:
            pieces.append(".+")
            literal = False
        else:
            pieces.append(re.escape(value))
    pieces.append(re.escape(raw[position:]))
    return "".join(pieces), literal


def _helpers(texts: Iterable[str], chart: str) -> dict[str, str | tuple[str, str]]:
    """``define`` helpers whose value is plainly the chart's name (``default .Chart.Name ...``)."""
    found: dict[str, str | tuple[str, str]] = {}
    for text in texts:
        for name, body in re.findall(
            r'{{-?\s*define\s+"([^"]+)"\s*-?}}(.*?){{-?\s*end', text, re.S
        ):
            if re.search(r"default\s+\.Chart\.Name\s+\.Values\.nameOverride", body) and (
                "Release.Name" not in body
            ):
                found[name] = chart
                continue
            # `{{- .Values.x.containerName | default "controller" -}}`: the value, else the literal
            plain = re.fullmatch(
                r'\s*{{-?\s*\.Values((?:\.[\w-]+)+)\s*\|\s*default\s+"([^"]+)"\s*-?}}\s*', body
            )
            if plain:
                found[name] = (plain.group(1).lstrip("."), plain.group(2))
    return found


def _bodies(texts: Iterable[str]) -> dict[str, str]:
    """``define`` bodies that emit containers or a resources block (worth inlining)."""
    found: dict[str, str] = {}
    for text in texts:
        for name, body in re.findall(
            r'{{-?\s*define\s+"([^"]+)"\s*-?}}\n?(.*?){{-?\s*end\s*-?}}\s*(?={{-?\s*define|\Z|{{/\*)',
            text,
            re.S,
        ):
            if "containers:" in body or re.search(r"^\s*resources:", body, re.M):
                found[name] = body
    return found


_INCLUDE_LINE = re.compile(
    r'^\s*{{-?\s*(?:include|template)\s+"([^"]+)"\s+(?:\.|\$)\s*(?:\|\s*n?indent\s+(\d+)\s*)?-?}}\s*$'
)


def _expand(lines: list[str], bodies: Mapping[str, str], depth: int = 3) -> list[str]:
    """Lines with ``include "helper" . | nindent N`` replaced by the helper's body, indented.

    Only helpers called with the chart's own context (``.`` or ``$``) are inlined: their
    ``.Values`` references mean the same inside and out.
    """
    if depth == 0 or not bodies:
        return lines
    out: list[str] = []
    for line in lines:
        match = _INCLUDE_LINE.match(line)
        if match is None or match.group(1) not in bodies:
            out.append(line)
            continue
        pad = " " * int(match.group(2) or 0)
        body = _expand(bodies[match.group(1)].splitlines(), bodies, depth - 1)
        out.extend(pad + body_line if body_line.strip() else body_line for body_line in body)
    return out


# Custom resources whose operator runs one main container named after the kind, sized by the
# resource's spec.resources (prometheus-operator: Prometheus -> StatefulSet prometheus-<name>).
_OPERATED = {
    "Prometheus": "prometheus",
    "PrometheusAgent": "prometheus",
    "Alertmanager": "alertmanager",
    "ThanosRuler": "thanos-ruler",
}


def _operated(kind: str, lines: list[str]) -> list[_Container]:
    scope = _Scope()
    name = next(_OPERATED[k] for k in kind.split("|") if k in _OPERATED)
    container = _Container(name, False, 0)
    in_spec = in_resources = False
    for line in lines:
        structural = bool(line.strip()) and not _is_action_only(line)
        if structural and not line.lstrip().startswith("#"):
            indent = _indent(line)
            if indent == 0:
                in_spec = line.startswith("spec:")
                in_resources = False
            elif in_spec and indent == 2:
                in_resources = bool(re.match(r"\s{2}resources:", line))
        scope.feed(line)
        if in_resources:
            container.refs.extend(scope.references(line))
    return [container] if container.refs else []


def _documents(text: str) -> list[list[str]]:
    docs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("---"):
            docs.append([])
        else:
            docs[-1].append(line)
    return [d for d in docs if any(line.strip() for line in d)]


def _kind_of(lines: list[str]) -> str:
    """The document's kind; ``A|B`` when an if/else picks one; "" when the kind is templated."""
    kinds: list[str] = []
    for line in lines:
        if line.startswith("kind:"):
            value = line.split(":", 1)[1].strip()
            if "{{" in value:
                return ""
            if value not in kinds:
                kinds.append(value)
    return "|".join(kinds)


def _name_hint(lines: list[str]) -> tuple[str, ...]:
    """Words of the workload's ``metadata.name`` (helper names and literals)."""
    in_metadata = False
    for line in lines:
        if re.match(r"metadata:\s*$", line):
            in_metadata = True
            continue
        if in_metadata and re.match(r"\s{2}name:", line):
            return _words(line.split(":", 1)[1])
        if in_metadata and line and not line.startswith(" ") and not _is_action_only(line):
            in_metadata = False
    return ()


@dataclass
class _Container:
    name_raw: str
    init: bool
    item_indent: int
    refs: list[str] = field(default_factory=list)
    preset: str = ""


def _containers(lines: list[str]) -> list[_Container]:
    """Every container item with the values paths its ``resources:`` block names."""
    scope = _Scope()
    found: list[_Container] = []
    list_indent: int | None = None  # indent of the containers: key while inside its list
    init = False
    current: _Container | None = None
    in_resources: int | None = None  # indent of the resources: key while inside its block
    item_indent: int | None = None  # indent of the list's items (nested lists are deeper)
    for line in lines:
        stripped = line.strip()
        structural = bool(stripped) and not stripped.startswith("#") and not _is_action_only(line)
        if structural:
            indent, is_item = _indent(line), stripped.startswith("- ")
            if in_resources is not None and indent <= in_resources:
                in_resources = None
            if list_indent is not None and (
                indent < list_indent or (indent == list_indent and not is_item)
            ):
                list_indent, current, item_indent = None, None, None
            key = re.match(r"\s*(containers|initContainers):\s*(#.*)?$", line)
            if key:
                list_indent, init, current = indent, key.group(1) == "initContainers", None
                item_indent = None
            elif list_indent is not None and is_item and (item_indent in (None, indent)):
                # A new container; its name may come on a later line (`- args: ...` first).
                item_indent = indent
                named = re.match(r"\s*- name:\s*(.+?)\s*$", line)
                current = _Container(named.group(1) if named else "", init, indent)
                found.append(current)
                if re.match(r"\s*- resources:", line):
                    in_resources = indent + 2
            elif current is not None and indent == current.item_indent + 2:
                named = re.match(r"\s*name:\s*(.+?)\s*$", line)
                if named and not current.name_raw:
                    current.name_raw = named.group(1)
                if re.match(r"\s*resources:", line):
                    in_resources = indent
        scope.feed(line)
        if current is not None and in_resources is not None:
            current.refs.extend(scope.references(line))
            preset = _PRESET.search(line)
            if preset:
                current.preset = preset.group(1).lstrip(".")
    return found


def _choose_path(container: _Container, defaults: Mapping[str, Any]) -> tuple[str, str]:
    """The one values path that feeds the container's resources, or ("", why not)."""
    candidates = sorted(
        {
            ref
            for ref in container.refs
            if "resources" in ref.split(".") and not ref.endswith("Preset")
        }
    )
    if not candidates:
        return "", "its resources come from no .Values path the reader can follow"
    if len(candidates) > 1:
        shaped = [c for c in candidates if resources_shaped(_dig(defaults, c))]
        if len(shaped) == 1:
            return shaped[0], ""
        return "", f"its resources may come from {' or '.join(candidates)}"
    return candidates[0], ""


def _hpa_site(template: str, lines: list[str]) -> HpaSite | None:
    scope = _Scope()
    prefixes: dict[str, set[str]] = {}
    for line in lines:
        scope.feed(line)
        for ref in scope.references(line):
            head, _, last = ref.rpartition(".")
            if last in _HPA_KEYS:
                prefixes.setdefault(head, set()).add(last)
        dot = scope.dot
        for key in _HPA_KEYS:
            if dot and re.search(rf"(?<![\w$])\.{key}\b", line):
                prefixes.setdefault(dot, set()).add(key)
    if len(prefixes) != 1:
        return None
    ((prefix, keys),) = prefixes.items()
    return HpaSite(template, _name_hint(lines), prefix, tuple(k for k in _HPA_KEYS if k in keys))


def read_templates(
    chart: str, templates: Mapping[str, str], defaults: Mapping[str, Any]
) -> tuple[tuple[ContainerSite, ...], tuple[HpaSite, ...]]:
    """Container and HPA sites of a chart from its template texts (file name -> text)."""
    helpers = _helpers(templates.values(), chart)
    bodies = _bodies(templates.values())
    sites: list[ContainerSite] = []
    hpas: list[HpaSite] = []
    for name in sorted(templates):
        if name.rsplit("/", 1)[-1].startswith("_"):
            continue
        for lines in _documents(templates[name]):
            lines = _expand(lines, bodies)
            kind = _kind_of(lines)
            if kind == "HorizontalPodAutoscaler":
                hpa = _hpa_site(name, lines)
                if hpa is not None:
                    hpas.append(hpa)
                continue
            operated = any(k in _OPERATED for k in kind.split("|"))
            if kind and not operated and not set(kind.split("|")) & set(WORKLOAD_KINDS):
                continue
            if not kind and not any("containers:" in line for line in lines):
                continue
            hint = _name_hint(lines)
            found = _operated(kind, lines) if operated else _containers(lines)
            kind = "StatefulSet" if operated else kind
            for container in found:
                pattern, literal = _resolve_name(container.name_raw, chart, defaults, helpers)
                path, why = _choose_path(container, defaults)
                sites.append(
                    ContainerSite(
                        name,
                        kind,
                        hint,
                        pattern,
                        literal,
                        path,
                        container.preset,
                        container.init,
                        why,
                        str(_dig(defaults, container.preset) or "") if container.preset else "",
                    )
                )
    return tuple(sites), tuple(hpas)


def read_chart(folder: Path) -> ChartPaths:
    """Read ``folder``'s Chart.yaml, values.yaml and templates (empty sites when it has none)."""
    meta = _safe_load(_read(folder / "Chart.yaml")) or {}
    chart = str(meta.get("name") or folder.name) if isinstance(meta, dict) else folder.name
    version = str(meta.get("version") or "") if isinstance(meta, dict) else ""
    defaults = _safe_load(_read(folder / "values.yaml"))
    defaults = defaults if isinstance(defaults, dict) else {}
    texts = {
        str(path.relative_to(folder)): _read(path)
        for path in sorted((folder / "templates").rglob("*"))
        if path.is_file() and path.suffix in (".yaml", ".yml", ".tpl")
    }
    containers, hpas = read_templates(chart, texts, defaults)
    return ChartPaths(chart, version, "templates", containers, hpas, defaults)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""
