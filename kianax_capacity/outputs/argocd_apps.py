"""ArgoCD Applications as a GitOps repository holds them, and which one deploys a workload.

Every ``*.yaml``/``*.yml`` file under the Applications folder is read (app-of-apps and
``envs/<env>/<app>.yaml`` layouts are folders of such files; a file may hold several documents,
``---`` separated). A document of kind ``Application`` is a candidate; an ``ApplicationSet``'s
``spec.template`` is read too, so that a workload it also deploys is reported as ambiguous, but
it is never written (its template renders one Application per generator element).

The Helm source of an Application is ``spec.source``, or the one entry of ``spec.sources`` with a
``chart``, a ``helm`` block or a chart folder at its ``path``; the entries with ``ref: <name>``
resolve ``$<name>/...`` value files. A workload is matched by the destination namespace and a
name: the release name (``helm.releaseName``, else the Application's name) or the chart's
``fullnameOverride``, equal to the workload or a dash-separated prefix of it
(``<release>-<component>``). The best match wins; two Applications matching equally well, or
none, leave the row refused with the candidates named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kianax_capacity.outputs.yaml_docs import split_documents
from kianax_capacity.outputs.yaml_edit import YamlEditError, split_style

__all__ = ["AppDoc", "HelmSource", "load_applications", "match_application"]

_KINDS = ("Application", "ApplicationSet")


@dataclass(frozen=True)
class HelmSource:
    """The Helm part of one Application source."""

    key: tuple[str, ...]  # ("spec", "source") or ("spec", "sources", "1") in the document
    repo_url: str
    chart: str  # a chart used by name from a Helm repository ("" for a chart in Git)
    path: str  # the chart folder in a Git repository
    target_revision: str
    release_name: str
    value_files: tuple[str, ...]
    ignore_missing: bool
    values: str | None  # spec.source.helm.values (a string), None when absent
    values_object: Any  # spec.source.helm.valuesObject, None when absent
    parameters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AppDoc:
    """One Application (or ApplicationSet template) document."""

    file: Path
    document: int
    kind: str
    name: str
    namespace: str
    source: HelmSource | None
    refs: Mapping[str, str] = field(default_factory=dict)  # ref name -> repoURL
    why: str = ""  # why it cannot be used ("" when it can)

    @property
    def label(self) -> str:
        where = f"{self.file}" + (f" (document {self.document + 1})" if self.document else "")
        return f"{self.kind} {self.name or '(no name)'} in {where}"

    @property
    def release(self) -> str:
        return (self.source.release_name if self.source else "") or self.name


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _helm_source(
    source: Mapping[str, Any], key: tuple[str, ...], repo_root: Path
) -> HelmSource | None:
    helm = source.get("helm")
    helm = helm if isinstance(helm, Mapping) else {}
    chart, path = _text(source.get("chart")), _text(source.get("path"))
    if not chart and not helm and not (path and (repo_root / path / "Chart.yaml").is_file()):
        return None
    files = helm.get("valueFiles") or []
    params = []
    for item in helm.get("parameters") or []:
        if isinstance(item, Mapping) and item.get("name"):
            params.append((str(item["name"]), _text(item.get("value"))))
    return HelmSource(
        key=key,
        repo_url=_text(source.get("repoURL")),
        chart=chart,
        path=path,
        target_revision=_text(source.get("targetRevision")),
        release_name=_text(helm.get("releaseName")),
        value_files=tuple(str(f) for f in files) if isinstance(files, list) else (),
        ignore_missing=bool(helm.get("ignoreMissingValueFiles")),
        values=helm.get("values") if "values" in helm else None,
        values_object=helm.get("valuesObject"),
        parameters=tuple(params),
    )


def _from_document(
    file: Path, index: int, data: Mapping[str, Any], repo_root: Path
) -> AppDoc | None:
    kind = data.get("kind")
    if kind not in _KINDS or not str(data.get("apiVersion", "")).startswith("argoproj.io/"):
        return None
    spec_key: tuple[str, ...] = ("spec",)
    spec = _mapping(data.get("spec"))
    meta = _mapping(data.get("metadata"))
    if kind == "ApplicationSet":
        template = _mapping(spec.get("template"))
        spec, meta = _mapping(template.get("spec")), _mapping(template.get("metadata"))
        spec_key = ("spec", "template", "spec")
    destination = _mapping(spec.get("destination"))
    name, namespace = _text(meta.get("name")), _text(destination.get("namespace"))
    refs: dict[str, str] = {}
    helm_sources: list[HelmSource] = []
    entries: list[tuple[tuple[str, ...], Any]]
    if isinstance(spec.get("sources"), list):  # ArgoCD ignores `source` when `sources` is set
        entries = [((*spec_key, "sources", str(i)), s) for i, s in enumerate(spec["sources"])]
    else:
        entries = [((*spec_key, "source"), spec.get("source"))]
    for key, source in entries:
        if not isinstance(source, Mapping):
            continue
        if source.get("ref"):
            refs[str(source["ref"])] = _text(source.get("repoURL"))
            if not source.get("path"):
                continue  # a source of value files only
        found = _helm_source(source, key, repo_root)
        if found is not None:
            helm_sources.append(found)
    why = ""
    if kind == "ApplicationSet":
        why = (
            f"it is the template of ApplicationSet {_text(_mapping(data.get('metadata')).get('name'))}"
            " (one Application per generator element); edit the values it points at by hand"
        )
    elif not helm_sources:
        why = "it has no Helm source"
    elif len(helm_sources) > 1:
        why = "it has several Helm sources (not supported); edit its values by hand"
    source = helm_sources[0] if len(helm_sources) == 1 else None
    return AppDoc(file, index, str(kind), name, namespace, source, refs, why)


def load_applications(folder: Path, repo_root: Path) -> tuple[list[AppDoc], list[str]]:
    """Every Application and ApplicationSet under ``folder``, and the files that could not be read.

    Raises:
        YamlEditError: never; unreadable files are returned as messages instead.
    """
    apps: list[AppDoc] = []
    problems: list[str] = []
    files = sorted(p for pattern in ("*.yaml", "*.yml") for p in folder.rglob(pattern))
    for file in files:
        if any(part.startswith(".") for part in file.relative_to(folder).parts):
            continue
        try:
            text, _ = split_style(file.read_bytes().decode("utf-8"))
            documents = split_documents(text)
        except (OSError, UnicodeDecodeError, YamlEditError) as exc:
            head = _head(file)
            # A Helm template of Applications (an app-of-apps chart) is not a manifest to edit.
            if b"argoproj.io" in head and b"{{" not in head:
                problems.append(f"{file}: cannot read its Applications ({exc})")
            continue
        for document in documents:
            if isinstance(document.data, Mapping):
                app = _from_document(file, document.index, document.data, repo_root)
                if app is not None:
                    apps.append(app)
    return apps, problems


def _head(file: Path) -> bytes:
    try:
        return file.read_bytes()[:65536]
    except OSError:
        return b""


def _score(name: str, workload: str) -> int:
    """3: the workload is the name; 2: it starts with ``<name>-``; 0: no match."""
    if not name or "{{" in name:
        return 0
    if workload == name:
        return 3
    return 2 if workload.startswith(name + "-") else 0


def match_application(
    apps: Sequence[AppDoc],
    names: Mapping[int, Iterable[str]],
    namespace: str,
    workload: str,
) -> tuple[AppDoc | None, str]:
    """The Application that deploys ``namespace/workload``, or (None, why none can be named).

    ``names[i]`` are the names ``apps[i]`` gives its workloads (release name, fullnameOverride).
    A longer matching prefix beats a shorter one (``cert-manager-webhook`` over ``cert``).
    """
    scored: list[tuple[tuple[int, int], AppDoc]] = []
    for i, app in enumerate(apps):
        if app.namespace != namespace:
            continue
        best = max(((_score(n, workload), len(n)) for n in names.get(i, ())), default=(0, 0))
        if best[0]:
            scored.append((best, app))
    if not scored:
        here = sorted({a.name for a in apps if a.namespace == namespace and a.name})
        return None, (
            f"no Application deploys into namespace {namespace} with a release name (or "
            f"fullnameOverride) that {workload} is or starts with"
            + (f" (Applications there: {', '.join(here)})" if here else "")
            + "; point `apps_dir` at the folder of its Application, or set that Application's "
            "helm.releaseName to the workload's name prefix"
        )
    top = max(score for score, _ in scored)
    winners = [app for score, app in scored if score == top]
    if len(winners) > 1:
        return None, (
            f"{len(winners)} Applications match {namespace}/{workload} equally well: "
            + "; ".join(a.label for a in winners)
            + "; point `apps_dir` at one environment's folder"
        )
    app = winners[0]
    if app.why:
        return None, f"deployed by {app.label}, but {app.why}"
    return app, ""
