"""`apply --argocd` on real ArgoCD Applications (tests/fixtures/argocd-corpus/, README there).

Each test lays real manifests out the way a GitOps repository holds them (a folder per
environment, app-of-apps folders, multi-document files), applies one recommendation set, and
checks the values ArgoCD would hand the chart, the bytes that must not move, a second run
(no change) and the dry run (the same diff, nothing written).
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kianax_capacity.outputs.argocd_apply import apply_argocd
from kianax_capacity.outputs.helm import ApplyResult, HelmLayout
from kianax_capacity.recommendations import RecommendationSet, Resources
from tests.unit.test_helm_real_charts import MI, R1, recommendation_set, rightsizing_row

ARGO = Path(__file__).resolve().parents[1] / "fixtures" / "argocd-corpus"
CHARTS = Path(__file__).resolve().parents[1] / "fixtures" / "charts-corpus"
R_NO_CPU_LIMIT = Resources(0.2, None, 256 * MI, 320 * MI)


def _load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def _get(data: object, *path: str) -> object:
    for key in path:
        if isinstance(data, list):
            data = data[int(key)]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return None
    return data


def _apply(
    recs: RecommendationSet, root: Path, apps: str = "envs", dry_run: bool = False
) -> ApplyResult:
    return apply_argocd(recs, HelmLayout(root / "charts"), root / apps, root, dry_run=dry_run)


def _only_added(before: str, after: str) -> list[str]:
    """The lines ``after`` adds; fails when any line of ``before`` changed or moved."""
    ops = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    added: list[str] = []
    for tag, a0, a1, b0, b1 in ops.get_opcodes():
        assert tag in ("equal", "insert"), (tag, before.splitlines()[a0:a1])
        if tag == "insert":
            added.extend(after.splitlines()[b0:b1])
    return added


def _idempotent_and_dry_run_equal(recs: RecommendationSet, root: Path, apps: str) -> None:
    """Run on a fresh copy: the dry run's diff equals the real run's; a second run changes nothing."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    dry = _apply(recs, root, apps, dry_run=True)
    assert {p: p.read_bytes() for p in files} == before
    real = _apply(recs, root, apps)
    assert dry.diff == real.diff and real.diff
    again = _apply(recs, root, apps)
    assert not again.changed_files and again.diff == ""


@pytest.fixture
def ingress_values_object(tmp_path: Path) -> Path:
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    shutil.copyfile(
        ARGO / "argo-cd-docs" / "ingress-nginx-values-object.yaml",
        tmp_path / "envs" / "prod" / "ingress-nginx.yaml",
    )
    return tmp_path


def test_values_object_gets_the_controller_resources_the_chart_reads(
    ingress_values_object: Path,
) -> None:
    app = ingress_values_object / "envs" / "prod" / "ingress-nginx.yaml"
    before = app.read_text()
    recs = recommendation_set(
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx")
    )
    result = _apply(recs, ingress_values_object)
    assert not result.skipped_rows
    values = _get(_load(app.read_text()), "spec", "source", "helm", "valuesObject")
    assert _get(values, "controller", "resources") == {
        "requests": {"cpu": "300m", "memory": "300Mi"},
        "limits": {"memory": "400Mi"},
    }
    assert _get(values, "resources") is None  # never a key ingress-nginx does not read
    assert _get(values, "controller", "replicaCount") == 2
    assert _only_added(before, app.read_text()) == [
        "          resources:",
        "            requests:",
        "              cpu: 300m",
        "              memory: 300Mi",
        "            limits:",
        "              memory: 400Mi",
    ]


def test_values_object_idempotent_and_dry_run_equals_real_run(
    ingress_values_object: Path,
) -> None:
    recs = recommendation_set(
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx")
    )
    _idempotent_and_dry_run_equal(recs, ingress_values_object, "envs")


def _guestbook_repo(root: Path, keep_values_object: bool) -> Path:
    """The reference Application (argo-cd docs) pointed at the chart its repoURL names.

    Edited so that it deploys a Helm chart that exists: ``path: guestbook`` (plain manifests)
    becomes ``helm-guestbook``, ``chart: chart-name`` (a placeholder) and the alternative
    ``sources:`` example go, and its ``valueFiles`` entry names the chart's real
    ``values-production.yaml``.
    """
    shutil.copytree(ARGO / "argocd-example-apps" / "helm-guestbook", root / "helm-guestbook")
    text = (ARGO / "argo-cd-docs" / "application.yaml").read_text()
    text = text.replace("    path: guestbook  #", "    path: helm-guestbook  #", 1)
    # ArgoCD ignores `source` when `sources` is set; the reference shows both, so the
    # `sources` example goes (with it, the write would go to that source, as ArgoCD reads it).
    start = text.index("  # Sources field specifies the list of sources")
    text = text[:start] + text[text.index("  # Destination cluster and namespace") :]
    text = text.replace(
        "    chart: chart-name  # Set this when pulling directly from a Helm repo. DO NOT set "
        "for git-hosted Helm charts.\n",
        "",
    )
    text = text.replace("      - values-prod.yaml\n", "      - values-production.yaml\n")
    if not keep_values_object:
        start = text.index("      # Values file as block file. This takes precedence")
        end = text.index("      # Skip custom resource definition installation")
        text = text[:start] + text[end:]
    (root / "apps").mkdir()
    (root / "apps" / "guestbook.yaml").write_text(text)
    return root / "apps" / "guestbook.yaml"


GUESTBOOK = "guestbook-helm-guestbook"  # the chart's fullname for release "guestbook"


def test_values_block_string_is_edited_inside_and_keeps_its_block_style(tmp_path: Path) -> None:
    app = _guestbook_repo(tmp_path, keep_values_object=False)
    before = app.read_text()
    recs = recommendation_set(
        rightsizing_row(GUESTBOOK, "helm-guestbook", R1, namespace="guestbook")
    )
    result = _apply(recs, tmp_path, "apps")
    assert not result.skipped_rows, result.skipped_rows
    after = app.read_text()
    assert _only_added(before, after) == [
        "        resources:",
        "          requests:",
        "            cpu: 300m",
        "            memory: 300Mi",
        "          limits:",
        "            memory: 400Mi",
    ]
    assert "      values: |\n        ingress:\n" in after  # still a literal block
    inner = _load(str(_get(_load(after), "spec", "source", "helm", "values")))
    assert _get(inner, "resources", "requests", "cpu") == "300m"
    assert _get(inner, "ingress", "annotations", "kubernetes.io/tls-acme") == "true"
    # the chart's own values files are not touched
    assert (tmp_path / "helm-guestbook" / "values.yaml").read_bytes() == (
        ARGO / "argocd-example-apps" / "helm-guestbook" / "values.yaml"
    ).read_bytes()
    _idempotent_after_first_run(recs, tmp_path, "apps")


def _idempotent_after_first_run(recs: RecommendationSet, root: Path, apps: str) -> None:
    again = _apply(recs, root, apps)
    assert not again.changed_files and again.diff == ""


def test_values_object_wins_over_values_so_values_is_left_byte_identical(tmp_path: Path) -> None:
    # argo-cd docs: "valuesObject trumps values - therefore values will be ignored".
    app = _guestbook_repo(tmp_path, keep_values_object=True)
    before = app.read_text()
    recs = recommendation_set(
        rightsizing_row(GUESTBOOK, "helm-guestbook", R1, namespace="guestbook")
    )
    result = _apply(recs, tmp_path, "apps")
    assert not result.skipped_rows, result.skipped_rows
    data = _load(app.read_text())
    helm = _get(data, "spec", "source", "helm")
    assert _get(helm, "valuesObject", "resources", "requests", "memory") == "300Mi"
    assert _get(helm, "values") == _get(_load(before), "spec", "source", "helm", "values")
    assert any("ignores helm.values" in m for f in result.files for m in f.messages)


def _diff_preview_repo(root: Path) -> Path:
    shutil.copytree(ARGO / "argocd-diff-preview", root, dirs_exist_ok=True)
    return root


def test_value_files_from_a_ref_source_get_the_write(tmp_path: Path) -> None:
    # internal-chart/app.yaml: a `ref: local-files` source and `$local-files/...` value files
    # for the chart examples/helm/charts/myApp, whose fullnameOverride names the Deployment.
    root = _diff_preview_repo(tmp_path)
    values = root / "examples" / "helm" / "values" / "my-app.yaml"
    app = root / "examples" / "internal-chart" / "app.yaml"
    app_before = app.read_bytes()
    recs = recommendation_set(rightsizing_row("super-app-name", "myApp", R1, namespace="default"))
    result = apply_argocd(
        recs, HelmLayout(root / "charts"), root / "examples" / "internal-chart", root
    )
    assert not result.skipped_rows, result.skipped_rows
    assert [f.path for f in result.changed_files] == [values]
    assert _load(values.read_text()) == {
        "fullnameOverride": "super-app-name",
        "resources": {
            "requests": {"cpu": "300m", "memory": "300Mi"},
            "limits": {"memory": "400Mi"},
        },
    }
    assert app.read_bytes() == app_before
    chart_values = root / "examples" / "helm" / "charts" / "myApp" / "values.yaml"
    assert (
        chart_values.read_bytes()
        == (
            ARGO / "argocd-diff-preview" / "examples" / "helm" / "charts" / "myApp" / "values.yaml"
        ).read_bytes()
    )


def test_the_same_workload_from_two_applications_is_refused_naming_both(tmp_path: Path) -> None:
    # The whole examples folder: internal-chart-example and the ApplicationSet my-app-set both
    # deploy `super-app-name` (fullnameOverride) into `default`.
    root = _diff_preview_repo(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    recs = recommendation_set(rightsizing_row("super-app-name", "myApp", R1, namespace="default"))
    result = apply_argocd(recs, HelmLayout(root / "charts"), root / "examples", root)
    (message,) = result.skipped_rows
    assert "default/super-app-name/myApp" in message and "equally well" in message
    assert "internal-chart-example" in message and "my-app-set" in message
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_an_application_set_template_is_never_written(tmp_path: Path) -> None:
    root = _diff_preview_repo(tmp_path)
    recs = recommendation_set(rightsizing_row("super-app-name", "myApp", R1, namespace="default"))
    result = apply_argocd(
        recs, HelmLayout(root / "charts"), root / "examples" / "basic-appset", root
    )
    (message,) = result.skipped_rows
    assert "ApplicationSet my-app-set" in message and "by hand" in message
    assert not result.changed_files


def _layered(root: Path) -> None:
    """envs/<env>/my-app.yaml: internal-chart-example per environment (the chart's default
    fullnameOverride names its Deployment test-namespace), with a shared
    values-common.yaml (a CPU limit) under each environment's own file."""
    _diff_preview_repo(root)
    source = (root / "examples" / "internal-chart" / "app.yaml").read_text()
    shutil.rmtree(root / "examples" / "internal-chart")
    shutil.rmtree(root / "examples" / "basic-appset")
    shutil.rmtree(root / "examples" / "label-selectors")
    values = root / "examples" / "helm" / "values"
    (values / "values-common.yaml").write_text(
        "resources:\n  limits:\n    cpu: 500m  # shared by every environment\n"
    )
    for env in ("dev", "prod"):
        (values / f"values-{env}.yaml").write_text(
            "# this environment's overrides\nreplicaCount: 2\n"
        )
        text = source.replace(
            "          - $local-files/examples/helm/values/my-app.yaml\n",
            "          - $local-files/examples/helm/values/values-common.yaml\n"
            f"          - $local-files/examples/helm/values/values-{env}.yaml\n",
        ).replace("namespace: default", f"namespace: {env}")
        (root / "envs" / env).mkdir(parents=True)
        (root / "envs" / env / "my-app.yaml").write_text(text)


def test_a_shared_base_limit_is_removed_with_null_in_the_environment_file(tmp_path: Path) -> None:
    _layered(tmp_path)
    values = tmp_path / "examples" / "helm" / "values"
    common = (values / "values-common.yaml").read_bytes()
    dev = (values / "values-dev.yaml").read_bytes()
    recs = recommendation_set(
        rightsizing_row("test-namespace", "myApp", R_NO_CPU_LIMIT, namespace="prod")
    )
    result = _apply(recs, tmp_path)
    assert not result.skipped_rows, result.skipped_rows
    prod = _load((values / "values-prod.yaml").read_text())
    assert _get(prod, "resources", "limits") == {"cpu": None, "memory": "320Mi"}
    assert (values / "values-common.yaml").read_bytes() == common  # dev reads it too
    assert (values / "values-dev.yaml").read_bytes() == dev
    assert (values / "values-prod.yaml").read_text().startswith("# this environment's overrides\n")
    assert any("null overrides" in c.note for f in result.changed_files for c in f.changes)
    _idempotent_after_first_run(recs, tmp_path, "envs")


def test_layered_dry_run_equals_real_run(tmp_path: Path) -> None:
    _layered(tmp_path)
    recs = recommendation_set(
        rightsizing_row("test-namespace", "myApp", R_NO_CPU_LIMIT, namespace="prod")
    )
    _idempotent_and_dry_run_equal(recs, tmp_path, "envs")


def _multi_document(root: Path) -> Path:
    """One file of three real Applications, `---` separated (an app-of-apps folder's file)."""
    docs = [
        (ARGO / "argo-cd-docs" / "sealed-secrets.yaml").read_text(),
        (ARGO / "argo-cd-docs" / "ingress-nginx-multi-source.yaml").read_text(),
        (ARGO / "argocd-diff-preview" / "examples" / "external-chart" / "nginx.yaml").read_text(),
    ]
    (root / "apps").mkdir(parents=True)
    path = root / "apps" / "platform.yaml"
    path.write_bytes(("---\n" + "---\n".join(docs)).replace("\n", "\r\n").encode())
    values = root / "helm" / "ingress-nginx" / "values.yaml"
    values.parent.mkdir(parents=True)
    shutil.copyfile(CHARTS / "ingress-nginx" / "values.yaml", values)
    return path


def test_multi_document_file_only_the_matching_document_changes(tmp_path: Path) -> None:
    path = _multi_document(tmp_path)
    before = path.read_bytes()
    # external-chart/nginx.yaml deploys release nginx-ingress into `default`.
    recs = recommendation_set(
        rightsizing_row(
            "nginx-ingress-ingress-nginx-controller", "controller", R1, namespace="default"
        )
    )
    result = _apply(recs, tmp_path, "apps")
    assert not result.skipped_rows, result.skipped_rows
    after = path.read_bytes()
    third = before.index(b"apiVersion", before.index(b"ref: values"))
    assert after[:third] == before[:third]  # the first two documents, byte for byte
    assert b"\n" not in after.replace(b"\r\n", b"")  # CRLF kept on every line
    docs = list(YAML(typ="safe", pure=True).load_all(after.decode()))
    vo = _get(docs[2], "spec", "sources", "0", "helm", "valuesObject")
    assert vo == {
        "controller": {
            "ingressClass": "test",
            "resources": {
                "requests": {"cpu": "300m", "memory": "300Mi"},
                "limits": {"memory": "400Mi"},
            },
        }
    }
    _idempotent_after_first_run(recs, tmp_path, "apps")


def test_multi_source_value_file_from_the_values_repo(tmp_path: Path) -> None:
    # ingress-nginx worked example: `$values/helm/ingress-nginx/values.yaml` (here: the real
    # chart's values.yaml standing in for the repo's file); the write goes into that file.
    path = _multi_document(tmp_path)
    values = tmp_path / "helm" / "ingress-nginx" / "values.yaml"
    before_values = values.read_text()
    before_apps = path.read_bytes()
    recs = recommendation_set(
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx")
    )
    result = _apply(recs, tmp_path, "apps")
    assert not result.skipped_rows, result.skipped_rows
    assert path.read_bytes() == before_apps
    data = _load(values.read_text())
    assert _get(data, "controller", "resources", "requests") == {"cpu": "300m", "memory": "300Mi"}
    assert _get(data, "controller", "resources", "limits", "memory") == "400Mi"
    changed = [
        line
        for line in difflib.unified_diff(
            before_values.splitlines(), values.read_text().splitlines()
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        "-      cpu: 100m",
        "-      memory: 90Mi",
        "+      cpu: 300m",
        "+      memory: 300Mi",
        "+    limits:",
        "+      memory: 400Mi",
    ]


def test_unknown_chart_and_unmatched_workload_say_why(tmp_path: Path) -> None:
    path = _multi_document(tmp_path)
    before = path.read_bytes()
    recs = recommendation_set(
        rightsizing_row("sealed-secrets", "controller", R1, namespace="kubeseal"),
        rightsizing_row("api", "app", R1, namespace="kubeseal"),
    )
    result = _apply(recs, tmp_path, "apps")
    first, second = result.skipped_rows
    assert "chart sealed-secrets 1.16.1 is used by name" in first
    assert "no Application deploys into namespace kubeseal" in second
    assert "sealed-secrets" in second
    assert path.read_bytes() == before


def test_an_application_without_values_gets_a_values_object(tmp_path: Path) -> None:
    # The "chart defaults" worked example: no values anywhere; the chart's defaults (vendored
    # here from the corpus) set controller.resources.requests, which is read-only.
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    app = tmp_path / "envs" / "prod" / "ingress-nginx.yaml"
    shutil.copyfile(ARGO / "argo-cd-docs" / "ingress-nginx-defaults.yaml", app)
    vendored = tmp_path / "charts" / "ingress-nginx"
    shutil.copytree(CHARTS / "ingress-nginx", vendored)
    before = app.read_text()
    recs = recommendation_set(
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx")
    )
    result = _apply(recs, tmp_path)
    assert not result.skipped_rows, result.skipped_rows
    assert _only_added(before, app.read_text()) == [
        "      valuesObject:",
        "        controller:",
        "          resources:",
        "            requests:",
        "              cpu: 300m",
        "              memory: 300Mi",
        "            limits:",
        "              memory: 400Mi",
    ]
    assert (vendored / "values.yaml").read_bytes() == (
        CHARTS / "ingress-nginx" / "values.yaml"
    ).read_bytes()
    _idempotent_after_first_run(recs, tmp_path, "envs")


def test_a_cpu_limit_from_unseen_chart_defaults_is_nulled(ingress_values_object: Path) -> None:
    # No chart defaults at hand, but the cluster runs a CPU limit: it comes from the defaults,
    # so removing it takes `cpu: null`, not silence.
    app = ingress_values_object / "envs" / "prod" / "ingress-nginx.yaml"
    current = Resources(0.1, 1.0, 128 * MI, None)
    recs = recommendation_set(
        rightsizing_row(
            "ingress-nginx-controller",
            "controller",
            R_NO_CPU_LIMIT,
            namespace="ingress-nginx",
            current=current,
        )
    )
    result = _apply(recs, ingress_values_object)
    assert not result.skipped_rows
    values = _get(_load(app.read_text()), "spec", "source", "helm", "valuesObject")
    assert _get(values, "controller", "resources", "limits") == {"cpu": None, "memory": "320Mi"}
    assert any("CPU limit no values here set" in m for f in result.files for m in f.messages)


def test_hpa_row_goes_to_the_prefix_the_charts_hpa_template_reads(tmp_path: Path) -> None:
    from kianax_capacity.recommendations import HpaRow, HpaSettings

    root = _diff_preview_repo(tmp_path)
    values = root / "examples" / "helm" / "values" / "my-app.yaml"
    hpa = HpaRow(
        namespace="default",
        workload="super-app-name",
        current=HpaSettings(1, 100, 80.0, None),
        recommended=HpaSettings(2, 6, 70.0, None),
        status="ok",
        reason="replayed",
    )
    recs = RecommendationSet(
        cluster="test",
        generated_at=recommendation_set().generated_at,
        window_start=recommendation_set().window_start,
        window_end=recommendation_set().window_end,
        step_seconds=300,
        hpa=(hpa,),
    )
    apps = root / "examples" / "internal-chart"
    result = apply_argocd(recs, HelmLayout(root / "charts"), apps, root)
    assert not result.skipped_rows, result.skipped_rows
    assert _get(_load(values.read_text()), "autoscaling") == {
        "minReplicas": 2,
        "maxReplicas": 6,
        "targetCPUUtilizationPercentage": 70,
    }
    again = apply_argocd(recs, HelmLayout(root / "charts"), apps, root)
    assert not again.changed_files


def test_values_set_by_helm_parameters_are_refused(ingress_values_object: Path) -> None:
    app = ingress_values_object / "envs" / "prod" / "ingress-nginx.yaml"
    text = app.read_text().replace(
        "      releaseName: ingress-nginx\n",
        "      releaseName: ingress-nginx\n"
        "      parameters:\n"
        '        - name: "controller.resources.requests.cpu"\n'
        '          value: "1"\n',
    )
    app.write_text(text)
    recs = recommendation_set(
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx")
    )
    result = _apply(recs, ingress_values_object)
    assert app.read_text() == text
    (skipped,) = [f for f in result.files if f.status == "skipped"]
    assert "helm.parameters" in skipped.messages[0] and "by hand" in skipped.messages[0]
    assert result.skipped_count == 1


def test_a_quoted_values_string_is_refused_not_shadowed(tmp_path: Path) -> None:
    # A valuesObject beside it would make ArgoCD ignore the whole string: refuse instead.
    (tmp_path / "envs").mkdir()
    app = tmp_path / "envs" / "ingress-nginx.yaml"
    text = (ARGO / "argo-cd-docs" / "ingress-nginx-defaults.yaml").read_text()
    text = text.replace(
        "      releaseName: ingress-nginx\n",
        '      releaseName: ingress-nginx\n      values: "controller:\\n  replicaCount: 2\\n"\n',
    )
    app.write_text(text)
    recs = recommendation_set(
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx")
    )
    result = _apply(recs, tmp_path)
    assert app.read_text() == text
    (skipped,) = [f for f in result.files if f.status == "skipped"]
    assert "quoted" in skipped.messages[0] and "values: |" in skipped.messages[0]


def test_two_rows_on_one_key_of_one_application_are_both_refused(
    ingress_values_object: Path,
) -> None:
    from kianax_capacity.outputs.helm import HelmLayout as Layout

    app = ingress_values_object / "envs" / "prod" / "ingress-nginx.yaml"
    before = app.read_bytes()
    rows = (
        rightsizing_row("ingress-nginx-controller", "controller", R1, namespace="ingress-nginx"),
        rightsizing_row("ingress-nginx-defaultbackend", "backend", R1, namespace="ingress-nginx"),
    )
    layout = Layout(
        ingress_values_object / "charts",
        container_paths={
            "ingress-nginx-controller/controller": "controller.resources",
            "ingress-nginx-defaultbackend/backend": "controller.resources",
        },
    )
    result = apply_argocd(
        recommendation_set(*rows), layout, ingress_values_object / "envs", ingress_values_object
    )
    assert len(result.skipped_rows) == 2
    assert all("would both write controller.resources" in m for m in result.skipped_rows)
    assert app.read_bytes() == before


def test_an_app_of_apps_helm_template_is_not_read_as_a_manifest(tmp_path: Path) -> None:
    # argocd-example-apps' apps/ chart renders its Applications with Helm; only the rendered
    # output would be editable. An unreadable plain manifest is reported.
    (tmp_path / "envs").mkdir()
    template = "{{- range .Values.applications }}\napiVersion: argoproj.io/v1alpha1\nkind: Application\n{{ end -}}\n"
    (tmp_path / "envs" / "applications.yaml").write_text(template)
    (tmp_path / "envs" / "broken.yaml").write_text("apiVersion: argoproj.io/v1alpha1\nkind: [\n")
    result = _apply(recommendation_set(), tmp_path)
    (skipped,) = result.files
    assert skipped.path.name == "broken.yaml" and skipped.status == "skipped"
