"""``apply --argocd``: write recommendations into the values ArgoCD Applications give their charts.

For each row: the Application that deploys it (:func:`argocd_apps.match_application`), its
layered values (:func:`argocd_stack.build_stack`), the values path of the container (the chart's
templates, the shipped table, or ``[helm] container_paths``, as for plain charts), then the
layer written:

* the layer the effective value comes from: the highest layer that sets anything under the
  container's resources path (or HPA prefix), when it may be written;
* otherwise (nothing sets it, or it comes from the chart's defaults or a shared value file) the
  highest writable layer above it: the Application's ``values`` block or ``valuesObject``, else
  its last own value file; an inherited limit that must go is overridden with ``null`` there;
* with no writable layer at all, a ``valuesObject`` is added to the Application.

Each edit keeps the file's bytes outside the changed values (comments, quoting, anchors, key
order, line endings, the other documents of a multi-document file). After editing, the whole
stack is read again through each row's path and must equal the recommendation, else nothing of
that Application is written.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.argocd_apps import AppDoc, load_applications, match_application
from kianax_capacity.outputs.argocd_stack import (
    AppStack,
    Layer,
    build_stack,
    chart_of,
    resolve_value_files,
)
from kianax_capacity.outputs.helm import (
    SECTIONS,
    ApplyResult,
    FileResult,
    HelmLayout,
    PlanItem,
    Resolver,
    split_path,
    unified_diff,
    verify_items,
    without_collisions,
    write_atomic,
)
from kianax_capacity.outputs.helm_plan import FilePlan, ValueChange
from kianax_capacity.outputs.helm_values import MISSING, ValueStack, lookup
from kianax_capacity.outputs.yaml_docs import (
    Document,
    block_value,
    join_documents,
    replace_block,
    split_documents,
)
from kianax_capacity.outputs.yaml_edit import (
    TextStyle,
    YamlEditError,
    edit_yaml,
    load_data,
    split_style,
)
from kianax_capacity.recommendations import RecommendationSet

__all__ = ["apply_argocd"]


@dataclass
class _File:
    raw: str
    text: str
    style: TextStyle
    documents: list[Document]


@dataclass
class _AppEdit:
    """The new texts of one Application's layers, with what changed and what was verified."""

    value_files: dict[Path, str] = field(default_factory=dict)
    document: str | None = None
    changes: list[tuple[Path, ValueChange]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)


class _Refused(Exception):
    pass


def _read(path: Path, cache: dict[Path, _File]) -> _File:
    if path not in cache:
        raw = path.read_bytes().decode("utf-8")
        text, style = split_style(raw)
        cache[path] = _File(raw, text, style, split_documents(text))
    return cache[path]


def _document_text(app: AppDoc, cache: dict[Path, _File]) -> str:
    file = _read(app.file, cache)
    return next(d.text for d in file.documents if d.index == app.document)


def _readers(apps: Sequence[AppDoc], repo_root: Path, charts_dir: Path) -> dict[Path, list[str]]:
    """Which Applications read each value file (a file read by several is never written)."""
    readers: dict[Path, list[str]] = {}
    for app in apps:
        if app.source is None:
            continue
        _, folder, _ = chart_of(app.source, repo_root, charts_dir)
        try:
            files = resolve_value_files(app, repo_root, folder)
        except YamlEditError:
            continue
        for _, path in files:
            if path is not None:
                readers.setdefault(path.resolve(), []).append(app.label)
    return readers


def _names(stack: AppStack) -> list[str]:
    """The names the chart gives its workloads: the release, and a fullnameOverride if set."""
    names = [stack.app.release]
    override = ValueStack(tuple(layer.data for layer in stack.layers)).effective(
        ("fullnameOverride",)
    )
    if isinstance(override, str) and override:
        names.append(override)
    return names


def _sets(data: Any, prefixes: Sequence[tuple[str, ...]]) -> bool:
    return any(lookup(data, prefix) is not MISSING for prefix in prefixes)


def _target(layers: list[Layer], prefixes: Sequence[tuple[str, ...]]) -> int | None:
    """The layer to write (None: add a valuesObject).

    Raises:
        _Refused: ``helm.parameters`` set these values, or the Application's ``values`` string
            must be written but cannot be.
    """
    setters = [i for i, layer in enumerate(layers) if _sets(layer.data, prefixes)]
    top = setters[-1] if setters else -1
    if top >= 0 and layers[top].kind == "parameters":
        raise _Refused(f"{layers[top].label} set(s) {'.'.join(prefixes[0])}; edit them by hand")
    if top >= 0 and not layers[top].read_only:
        return top
    writable = [
        i
        for i in range(top + 1, len(layers))
        if not layers[i].read_only and layers[i].kind != "parameters"
    ]
    if writable:
        return writable[-1]
    inline = [layer for layer in layers if layer.kind == "values"]
    if inline:
        # A valuesObject would make ArgoCD ignore the whole values string.
        raise _Refused(f"{inline[0].label}: {inline[0].read_only}")
    return None


def _with_value_object(stack: AppStack) -> int:
    """Add an empty valuesObject layer below the parameters; its index."""
    assert stack.app.source is not None
    key = (*stack.app.source.key, "helm", "valuesObject")
    layer = Layer("valuesObject", ".".join(key), {}, stack.app.file, key=key)
    at = next((i for i, lay in enumerate(stack.layers) if lay.kind == "parameters"), None)
    at = len(stack.layers) if at is None else at
    stack.layers.insert(at, layer)
    stack.notes.append(f"no writable values in {stack.app.label}; adding {layer.label}")
    return at


def _plan_layer(
    layer: Layer, below: ValueStack, items: list[PlanItem], document: str
) -> tuple[str, Any, FilePlan]:
    """Edit one layer for ``items``: its new editable text, its new data, and the plan."""
    key: tuple[str, ...] = ()
    if layer.kind == "file":
        text = layer.text
    elif layer.kind == "values":
        assert layer.block is not None
        text = layer.block.content
    else:
        text, key = document, layer.key
    plan = FilePlan(text, ValueStack((*below.layers, layer.data)), key)
    for item in items:
        if item.section == "rightsizing":
            plan.resources(item.row, item.prefix, item.preset)
        else:
            plan.autoscaling(item.row, item.prefix, item.keys)
    new_text = edit_yaml(text, plan.edits)
    data = load_data(new_text)
    if key:
        found = _dig(data, key)
        data = found if isinstance(found, dict) else {}
    return new_text, (data if data is not None else {}), plan


def _dig(data: Any, key: tuple[str, ...]) -> Any:
    """The value at ``key`` in a document, through mappings and list items (``sources.1``)."""
    for part in key:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def _replace_string(data: Any, key: tuple[str, ...], value: str) -> Any:
    out = copy.deepcopy(data)
    node = out
    for part in key[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[key[-1]] = value
    return out


def _embed(document: str, layer: Layer, content: str) -> str:
    """The document with its ``values: |`` block holding ``content``; checked by a re-read."""
    assert layer.block is not None
    new_document = replace_block(document, layer.block, content)
    value = block_value(new_document, layer.key)
    stripped = not (block_value(document, layer.key) or "").endswith("\n")  # `|-`
    want = content[:-1] if stripped and content.endswith("\n") else content
    if value != want or load_data(new_document) != _replace_string(
        load_data(document), layer.key, want
    ):
        raise YamlEditError(
            f"{layer.label}: the rewritten block would not read back; edit it by hand"
        )
    return new_document


def _infer_defaults(stack: AppStack, items: list[PlanItem], presets: dict[str, str]) -> None:
    """Stand-in defaults for a chart used by name whose values.yaml is not at hand.

    The table gives a bitnami chart's default ``resourcesPreset``; and a CPU limit the cluster
    runs that no layer here sets comes from the chart's defaults, so removing it needs ``null``.
    """
    data: dict[str, Any] = {}

    def put(path: tuple[str, ...], value: Any) -> None:
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    for dotted, value in presets.items():
        put(tuple(dotted.split(".")), value)
    seen = ValueStack(tuple(layer.data for layer in stack.layers))
    for item in items:
        row = item.row
        path = (*item.prefix, "limits", "cpu")
        if (
            item.section == "rightsizing"
            and row.recommended.cpu_limit is None
            and row.current.cpu_limit is not None
            and seen.effective(path) is None
        ):
            put(path, str(row.current.cpu_limit))
            stack.notes.append(
                f"{'.'.join(path)}: the cluster runs a CPU limit no values here set (the chart's "
                "defaults); removing it takes a null"
            )
    if data:
        stack.layers.insert(0, Layer("defaults", "the chart's defaults", data, None, "defaults"))


def _plan_app(
    stack: AppStack, items: list[PlanItem], document: str, defaults: dict[str, str]
) -> _AppEdit:
    """All edits of one Application, verified on its whole stack."""
    layers = stack.layers
    if not any(layer.kind == "defaults" for layer in layers):
        _infer_defaults(stack, items, defaults)
    groups: dict[int, list[PlanItem]] = {}
    for item in items:
        prefixes = [item.prefix] + ([split_path(item.preset)] if item.preset else [])
        index = _target(layers, prefixes)
        if index is None:
            index = _with_value_object(stack)
        groups.setdefault(index, []).append(item)
    edit = _AppEdit(messages=list(stack.notes))
    left_alone: set[tuple[str, ...]] = set()
    for index in sorted(groups):
        layer = layers[index]
        below = ValueStack(tuple(lay.data for lay in layers[:index]))
        current = edit.document if edit.document is not None else document
        new_text, data, plan = _plan_layer(layer, below, groups[index], current)
        left_alone |= plan.left_alone
        edit.messages.extend(plan.messages)
        if not plan.changes:
            continue
        layers[index] = replace(layer, data=data)
        where = layer.file if layer.kind == "file" else stack.app.file
        assert where is not None
        for change in plan.changes:
            shown = (
                change
                if layer.kind == "file"
                else replace(change, path=f"{layer.label}: {change.path}")
            )
            edit.changes.append((where, shown))
        if layer.kind == "file":
            edit.value_files[where] = new_text
        elif layer.kind == "values":
            edit.document = _embed(current, layer, new_text)
        else:
            edit.document = new_text
    full = ValueStack(tuple(lay.data for lay in layers))
    edit.verified = list(verify_items(full, items, frozenset(left_alone)))
    return edit


def _items_for(
    recs: RecommendationSet,
    only: Sequence[str],
    apps: list[AppDoc],
    names: dict[int, list[str]],
    stacks: dict[int, AppStack | str],
    layout: HelmLayout,
) -> tuple[dict[int, list[PlanItem]], dict[int, dict[str, str]], list[str]]:
    """Rows grouped by the Application that deploys them, preset defaults, refused rows."""
    work: dict[int, list[PlanItem]] = {}
    defaults: dict[int, dict[str, str]] = {}
    refused: list[str] = []
    resolvers: dict[int, Resolver] = {}
    index_of = {id(app): i for i, app in enumerate(apps)}
    rows: list[tuple[str, Any]] = []
    if "rightsizing" in only:
        rows += [("rightsizing", r) for r in recs.rightsizing if r.status == "ok"]
    if "hpa" in only:
        rows += [("hpa", r) for r in recs.hpa if r.status == "ok"]
    for section, row in rows:
        who = (
            f"{row.namespace}/{row.workload}/{row.container}"
            if section == "rightsizing"
            else f"{row.namespace}/{row.workload} (HPA)"
        )
        app, why = match_application(apps, names, row.namespace, row.workload)
        if app is None:
            refused.append(f"{who}: {why}")
            continue
        i = index_of[id(app)]
        stack = stacks[i]
        if isinstance(stack, str):
            refused.append(f"{who}: {app.label}: {stack}")
            continue
        if i not in resolvers:
            resolvers[i] = Resolver(recs, layout)
            resolvers[i].charts[stack.chart_name] = stack.chart
        if section == "rightsizing":
            target, why = resolvers[i].container(stack.chart_name, row)
            if target is None:
                refused.append(f"{who}: {app.label}: {why}")
                continue
            if target.preset and target.preset_default:
                defaults.setdefault(i, {})[target.preset] = target.preset_default
            item = PlanItem("rightsizing", row, split_path(target.path), target.preset)
        else:
            found, why = resolvers[i].hpa(stack.chart_name, row)
            if found is None:
                refused.append(f"{who}: {app.label}: {why}")
                continue
            item = found
        work.setdefault(i, []).append(item)
    for i, items in work.items():
        work[i], collisions = without_collisions(items)
        refused.extend(collisions)
    return work, defaults, refused


def _read_stacks(
    apps: list[AppDoc], cache: dict[Path, _File], repo_root: Path, charts_dir: Path
) -> tuple[dict[int, AppStack | str], dict[int, list[str]]]:
    """Each Application's stack (or why it cannot be read) and the names it gives workloads."""
    readers = _readers(apps, repo_root, charts_dir)
    stacks: dict[int, AppStack | str] = {}
    names: dict[int, list[str]] = {}
    for i, app in enumerate(apps):
        names[i] = [app.release]
        if app.source is None:
            continue  # ApplicationSets are read too: their names make a match ambiguous
        try:
            stack = build_stack(app, _document_text(app, cache), repo_root, charts_dir, readers)
        except (YamlEditError, OSError) as exc:
            stacks[i] = str(exc)
            continue
        stacks[i] = stack
        names[i] = _names(stack)
    return stacks, names


def _write_out(
    per_file: dict[Path, _AppEdit],
    documents: dict[Path, dict[int, str]],
    value_files: dict[Path, str],
    owners: dict[Path, list[str]],
    cache: dict[Path, _File],
    dry_run: bool,
) -> list[FileResult]:
    """Each changed file rebuilt (other documents and bytes as they were), diffed, written."""
    results: list[FileResult] = []
    for path in sorted(per_file):
        if path in documents:
            file = _read(path, cache)
            new_text = join_documents(file.text, documents[path], file.documents)
        else:
            file = _read_value_file(path)
            new_text = value_files[path]
        new_raw = file.style.restore(new_text)
        merged = per_file[path]
        diff = unified_diff(path, file.raw, new_raw)
        if not dry_run:
            write_atomic(path, new_raw.encode("utf-8"))
        results.append(
            FileResult(
                ", ".join(owners[path]),
                path,
                "changed",
                tuple(c for _, c in merged.changes),
                tuple(merged.messages),
                diff,
                tuple(merged.verified),
            )
        )
    return results


def apply_argocd(
    recommendations: RecommendationSet,
    layout: HelmLayout,
    apps_dir: Path,
    repo_root: Path,
    only: Sequence[str] = SECTIONS,
    dry_run: bool = False,
) -> ApplyResult:
    """Patch the values the ArgoCD Applications under ``apps_dir`` give their charts.

    Args:
        recommendations: the set to apply (rows with status ``ok``).
        layout: ``charts_dir`` holds vendored charts used by name (``<charts>/<chart>/``);
            ``container_paths``, ``resources_path`` and ``autoscaling_path`` as for plain charts.
        apps_dir: the folder of Application manifests (scanned recursively).
        repo_root: the local checkout every Git ``repoURL`` and ``$ref`` resolves to.
        only: sections to apply.
        dry_run: compute the diffs, write nothing.

    Returns:
        One :class:`FileResult` per file changed (Application manifests and value files) or
        per Application left unchanged or skipped, and the refused rows with their reasons.
    """
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        raise UserInputError(
            f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}",
            parameter="only",
        )
    apps, problems = load_applications(apps_dir, repo_root)
    cache: dict[Path, _File] = {}
    stacks, names = _read_stacks(apps, cache, repo_root, layout.charts_dir)
    work, defaults, refused = _items_for(recommendations, only, apps, names, stacks, layout)
    results: list[FileResult] = [
        FileResult("", Path(p.split(":", 1)[0]), "skipped", messages=(p,)) for p in problems
    ]
    documents: dict[Path, dict[int, str]] = {}
    value_files: dict[Path, str] = {}
    per_file: dict[Path, _AppEdit] = {}
    owners: dict[Path, list[str]] = {}
    for i in sorted(work):
        planned = stacks[i]
        assert not isinstance(planned, str)
        app = apps[i]
        try:
            edit = _plan_app(planned, work[i], _document_text(app, cache), defaults.get(i, {}))
        except (YamlEditError, _Refused) as exc:
            results.append(
                FileResult(app.name, app.file, "skipped", messages=(f"{app.label}: {exc}",))
            )
            continue
        if edit.document is None and not edit.value_files:
            results.append(
                FileResult(
                    app.name,
                    app.file,
                    "unchanged",
                    messages=tuple(edit.messages),
                    verified=tuple(edit.verified),
                )
            )
            continue
        if edit.document is not None:
            documents.setdefault(app.file, {})[app.document] = edit.document
        value_files.update(edit.value_files)
        for path in {*edit.value_files, *([app.file] if edit.document is not None else [])}:
            merged = per_file.setdefault(path, _AppEdit())
            merged.changes.extend(c for c in edit.changes if c[0] == path)
            owners.setdefault(path, []).append(app.name)
        first = app.file if edit.document is not None else next(iter(edit.value_files))
        per_file[first].messages.extend(edit.messages)
        per_file[first].verified.extend(edit.verified)
    results.extend(_write_out(per_file, documents, value_files, owners, cache, dry_run))
    return ApplyResult(files=tuple(results), skipped_rows=tuple(refused))


def _read_value_file(path: Path) -> _File:
    raw = path.read_bytes().decode("utf-8")
    text, style = split_style(raw)
    return _File(raw, text, style, [])
