"""The layered values of one ArgoCD Application, lowest first, and which of them may be written.

ArgoCD's documented order (argo-cd docs/user-guide/helm.md, "Helm Value Precedence"):
``parameters > valuesObject > values > valueFiles > helm repository values.yaml``; the last of
several ``valueFiles`` wins, and "valuesObject trumps values - therefore values will be ignored"
when both are set. So the stack is: the chart's ``values.yaml`` (its defaults), each value file
in order, then ``values`` *or* ``valuesObject``, then ``parameters``.

Value files resolve as ArgoCD resolves them: ``$<ref>/path`` from the root of the ``ref``
source's repository, ``/path`` from the repository root, anything else relative to the chart's
folder (``spec.source.path``). Every Git repository is the local checkout ``repo_root``
(``[helm] repo_root``); remote URLs and glob patterns are not read, and the Application is
refused. Never written: the chart's own ``values.yaml`` (its defaults), a value file that other
Applications also read (a change there would change them too), ``parameters`` (a row whose
values are set there is refused), and a ``values`` string that is not a literal ``|`` block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kianax_capacity.outputs.argocd_apps import AppDoc, HelmSource
from kianax_capacity.outputs.chart_table import known_chart, known_versions, table_info
from kianax_capacity.outputs.helm_resolve import ChartLayout, discover_chart
from kianax_capacity.outputs.yaml_docs import Block, read_block
from kianax_capacity.outputs.yaml_edit import TextStyle, YamlEditError, load_data, split_style

__all__ = ["AppStack", "Layer", "build_stack", "resolve_value_files"]

_GLOB = re.compile(r"[*?\[]")


@dataclass
class Layer:
    """One layer of values: where it is, what it holds, and whether ``apply`` may write it."""

    kind: str  # defaults | file | values | valuesObject | parameters
    label: str
    data: Any
    file: Path | None = None  # the value file, or the Application's file for inline values
    read_only: str = ""  # why it is not written ("" = writable)
    text: str = ""  # a value file's text (LF, no BOM)
    style: TextStyle | None = None
    block: Block | None = None  # the literal block of a `values: |` string
    key: tuple[str, ...] = ()  # inline values: the key path in the Application document


@dataclass
class AppStack:
    app: AppDoc
    chart: ChartLayout
    chart_name: str
    layers: list[Layer]
    notes: list[str]


def _params_data(parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """``--set`` style names (``a.b\\.c``: ``\\.`` is a literal dot) as nested mappings."""
    data: dict[str, Any] = {}
    for name, value in parameters:
        parts = [p.replace("\0", ".") for p in name.replace("\\.", "\0").split(".")]
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            node = node.setdefault(part, {}) if not isinstance(child, dict) else child
        node[parts[-1]] = value
    return data


def chart_of(
    source: HelmSource, repo_root: Path, charts_dir: Path
) -> tuple[ChartLayout, Path | None, str]:
    """The chart's paths, its folder when at hand (defaults, relative value files), its name."""
    if source.chart:
        vendored = charts_dir / source.chart
        if (vendored / "Chart.yaml").is_file() or (vendored / "templates").is_dir():
            return discover_chart(vendored), vendored, source.chart
        known = known_chart(source.chart, source.target_revision)
        if known is not None:
            return ChartLayout(known), None, source.chart
        versions = known_versions(source.chart)
        why = (
            f"chart {source.chart} {source.target_revision} is used by name and "
            + (
                f"the table knows only version(s) {', '.join(versions)}"
                if versions
                else f"is not in {table_info()}"
            )
            + f" (or vendor it as {vendored}/)"
        )
        return ChartLayout(None, why), None, source.chart
    folder = repo_root / source.path
    if not folder.is_dir():
        why = f"chart folder {source.path} of {source.repo_url} is not under {repo_root}; pass `repo_root`"
        return ChartLayout(None, why), None, source.path
    return discover_chart(folder), folder, Path(source.path).name


def resolve_value_files(
    app: AppDoc, repo_root: Path, chart_folder: Path | None
) -> list[tuple[str, Path | None]]:
    """Each value file entry and the local file it is (None when it does not exist).

    Raises:
        YamlEditError: an entry that cannot be resolved here (remote, glob, unknown ref, outside
            the repository, inside a chart package).
    """
    assert app.source is not None
    out: list[tuple[str, Path | None]] = []
    root = repo_root.resolve()
    for entry in app.source.value_files:
        if "://" in entry:
            raise YamlEditError(f"value file {entry} is a URL; it is not read here")
        if _GLOB.search(entry):
            raise YamlEditError(f"value file pattern {entry} is a glob; list its files explicitly")
        if entry.startswith("$"):
            ref, _, rest = entry[1:].partition("/")
            if ref not in app.refs:
                raise YamlEditError(f"value file {entry}: no source with ref: {ref}")
            path = repo_root / rest
        elif entry.startswith("/"):
            path = repo_root / entry.lstrip("/")
        elif chart_folder is not None:
            path = chart_folder / entry  # a vendored chart used by name: its package's file
        else:
            raise YamlEditError(
                f"value file {entry} is inside chart {app.source.chart}'s package; "
                "it is not in this repository"
            )
        try:
            path.resolve().relative_to(root)
        except ValueError as exc:
            raise YamlEditError(
                f"value file {entry} is outside the repository {repo_root}"
            ) from exc
        out.append((entry, path if path.is_file() else None))
    return out


def _read_file(path: Path) -> tuple[str, TextStyle, Any]:
    try:
        text, style = split_style(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlEditError(f"cannot read {path} ({exc})") from exc
    try:
        data = load_data(text)
    except YamlEditError as exc:
        raise YamlEditError(f"{path}: {exc}") from exc
    return text, style, data if data is not None else {}


def build_stack(
    app: AppDoc,
    document_text: str,
    repo_root: Path,
    charts_dir: Path,
    readers: Mapping[Path, list[str]],
) -> AppStack:
    """The layers of ``app``, lowest first.

    ``readers`` maps each resolved value file to the Applications that read it.

    Raises:
        YamlEditError: the stack cannot be read completely; the Application's rows are refused.
    """
    source = app.source
    assert source is not None
    chart, folder, chart_name = chart_of(source, repo_root, charts_dir)
    layers: list[Layer] = []
    notes: list[str] = []
    defaults = folder / "values.yaml" if folder is not None else None
    if defaults is not None and defaults.is_file():
        _, _, data = _read_file(defaults)
        layers.append(
            Layer(
                "defaults",
                f"{defaults} (the chart's defaults)",
                data,
                defaults,
                "it holds the chart's defaults",
            )
        )
    elif chart.paths is not None:
        notes.append(
            f"chart {chart_name}'s values.yaml is not at hand: only the values this repository "
            f"sets are seen (vendor the chart as {charts_dir / chart_name}/ to see its defaults)"
        )
    for entry, path in resolve_value_files(app, repo_root, folder):
        if path is None:
            if source.ignore_missing:
                continue
            raise YamlEditError(f"value file {entry} not found (ArgoCD would fail to render it)")
        text, style, data = _read_file(path)
        others = [name for name in readers.get(path.resolve(), []) if name != app.label]
        read_only = ""
        if defaults is not None and path.resolve() == defaults.resolve():
            read_only = "it holds the chart's defaults"
        elif (
            source.chart and folder is not None and path.resolve().is_relative_to(folder.resolve())
        ):
            read_only = f"it is in chart {source.chart}'s package (ArgoCD reads it from the Helm repository)"
        elif others:
            read_only = f"{', '.join(others)} also read(s) it"
        layers.append(Layer("file", str(path), data, path, read_only, text, style))
    helm_key = (*source.key, "helm")
    if source.values_object is not None:
        if source.values is not None:
            notes.append(
                f"{app.label}: valuesObject is set, so ArgoCD ignores helm.values; not read"
            )
        data = source.values_object if isinstance(source.values_object, dict) else {}
        layers.append(
            Layer(
                "valuesObject",
                ".".join((*helm_key, "valuesObject")),
                data,
                app.file,
                key=(*helm_key, "valuesObject"),
            )
        )
    elif source.values is not None:
        key = (*helm_key, "values")
        read_only, block, data = "", None, {}
        try:
            if not isinstance(source.values, str):
                raise YamlEditError(f"{'.'.join(key)} is not a string")
            loaded = load_data(source.values)
            data = loaded if isinstance(loaded, dict) else {}
            block = read_block(document_text, key)
        except YamlEditError as exc:
            read_only = str(exc)
        layers.append(
            Layer("values", ".".join(key), data, app.file, read_only, block=block, key=key)
        )
    if source.parameters:
        layers.append(
            Layer(
                "parameters",
                ".".join((*helm_key, "parameters")),
                _params_data(source.parameters),
                app.file,
                "helm.parameters are set with --set; edit them by hand",
            )
        )
    return AppStack(app, chart, chart_name, layers, notes)
