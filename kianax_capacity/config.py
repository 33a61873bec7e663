"""``kianax-capacity.toml``: cluster, sources, node groups, profile, exclusions.

Every setting has a default and can be overridden by a CLI flag; unknown keys are an error that
names them (a typo must not silently change a production recommendation). Secrets are never read
from this file: tokens and passwords come from the environment (``*_env`` keys name the variable)
or from files (``*_file``), AWS credentials from the standard AWS chain.

Example file::

    cluster = "kianax-production"
    profile = "production"

    [prometheus]
    url = "https://prometheus.example.com"
    auth = "bearer"                 # none | bearer | basic | sigv4
    bearer_token_env = "PROM_TOKEN"

    [aws]
    region = "us-east-1"
    prices = "embedded"             # embedded | aws

    [exclusions]
    namespaces = ["kube-system"]

    [workloads."kianax/trading-service"]   # guardrails for one workload ("kianax/*": a namespace)
    profile = "high-availability"
    cpu_percentile = 99
    [workloads."kianax/trading-service".memory]
    min_request = "512Mi"
    allow_decrease = false
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kianax_capacity.errors import ConfigError, UserInputError
from kianax_capacity.model import PROFILES

__all__ = [
    "AwsConfig",
    "ClusterConfig",
    "Config",
    "ExclusionsConfig",
    "HelmConfig",
    "NodeGroupConfig",
    "PrometheusConfig",
    "ResourceBounds",
    "WorkloadGuardrails",
    "load_config",
    "parse_workload_guardrails",
]

DEFAULT_CONFIG_FILE = "kianax-capacity.toml"


@dataclass(frozen=True)
class PrometheusConfig:
    url: str | None = None
    auth: str = "none"  # none | bearer | basic | sigv4
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None
    basic_user: str | None = None
    basic_password_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    insecure_skip_verify: bool = False
    sigv4_region: str | None = None
    timeout_seconds: float = 60.0
    max_retries: int = 3
    concurrency: int = 4
    cluster_label: str | None = None
    cluster_value: str | None = None
    shape: str = "auto"  # auto | series | aggregate
    # Added for the Prometheus source (docs/prometheus.md):
    retry_backoff_seconds: float = 0.5  # urllib3 backoff factor between retries
    max_retry_after_seconds: float = 30.0  # a longer Retry-After from the server is capped
    max_points_per_series: int = 10_000  # time chunks stay under the 11,000-point API limit
    scrape_interval: str | None = None  # e.g. "30s"; None = detect from the data
    rate_window: str | None = None  # e.g. "2m"; None = max(step, 2 x scrape interval)
    aggregate_chunk: str = "1d"  # aggregate shape: one request per statistic and chunk
    dialect: str = "auto"  # aggregate shape: auto | promql | metricsql (VictoriaMetrics)
    # shape = "auto": more containers than this in the window's last hour -> aggregate shape
    auto_shape_max_containers: int = 2000
    cache_dir: str | None = None  # per-day cache (aggregate shape); None = the user cache dir


@dataclass(frozen=True)
class AwsConfig:
    region: str = "us-east-1"
    prices: str = "embedded"  # embedded | aws
    cur_manifest: str | None = None  # s3://bucket/prefix/.../manifest.json
    cost_explorer: bool = False
    commitment_discount: float = 0.28  # Compute Savings Plan, 1 year no upfront (assumption)
    allow_graviton: bool = False


CPU_CREDIT_MODES = ("unlimited", "standard")


@dataclass(frozen=True)
class NodeGroupConfig:
    """``[nodegroups.NAME]``: what the group is declared as, and how its autoscaler behaves.

    ``cpu_credits`` is the credit mode of burstable (T2/T3/T3a/T4g) nodes: None = the type's
    launch default (unlimited for T3/T3a/T4g, standard for T2). ``system_cpu_allowance_cores``
    is the CPU each node runs outside containers when node-exporter is not scraped (None = the
    EKS AMI's kube-reserved CPU for the type). The ``scale_down_*`` keys are the cluster
    autoscaler's flags of the same names (defaults: the platform's 50% for 10 minutes, and
    the autoscaler's own 10 minutes after a scale-up); ``node_provision_seconds`` is how long a
    new node takes to take pods.
    """

    instance_types: tuple[str, ...] = ()
    capacity_type: str = "ON_DEMAND"
    min_size: int | None = None
    max_size: int | None = None
    cpu_credits: str | None = None
    system_cpu_allowance_cores: float | None = None
    scale_down_utilization_threshold: float = 0.5
    scale_down_unneeded_seconds: float = 600.0
    scale_down_delay_after_add_seconds: float = 600.0
    node_provision_seconds: float = 120.0

    def __post_init__(self) -> None:
        for bound in ("min_size", "max_size"):
            size = getattr(self, bound)
            if size is not None and (
                isinstance(size, bool) or not isinstance(size, int) or size < 0
            ):
                raise ConfigError(f"{bound}: expected a whole number of nodes >= 0, got {size!r}")
        if (
            self.min_size is not None
            and self.max_size is not None
            and self.min_size > self.max_size
        ):
            raise ConfigError(f"min_size: {self.min_size} is above max_size {self.max_size}")
        if self.cpu_credits is not None and self.cpu_credits not in CPU_CREDIT_MODES:
            raise ConfigError(
                f"cpu_credits = {self.cpu_credits!r}: use one of {', '.join(CPU_CREDIT_MODES)}"
            )
        allowance = self.system_cpu_allowance_cores
        if allowance is not None and (
            isinstance(allowance, bool) or not isinstance(allowance, int | float) or allowance < 0
        ):
            raise ConfigError(
                f"system_cpu_allowance_cores = {allowance!r}: expected cores >= 0, e.g. 0.1"
            )
        if not 0 < self.scale_down_utilization_threshold <= 1:
            raise ConfigError(
                "scale_down_utilization_threshold must be in (0, 1], e.g. 0.5 for 50%"
            )
        for name in (
            "scale_down_unneeded_seconds",
            "scale_down_delay_after_add_seconds",
            "node_provision_seconds",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 seconds")


@dataclass(frozen=True)
class ExclusionsConfig:
    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()  # "namespace/workload"


@dataclass(frozen=True)
class ResourceBounds:
    """Per-workload bounds on one resource (cores for CPU, bytes for memory; None = no bound)."""

    min_request: float | None = None
    max_request: float | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    allow_decrease: bool = True  # memory only: false = never below today's request and limit


@dataclass(frozen=True)
class WorkloadGuardrails:
    """``[workloads."namespace/name"]`` (or ``"namespace/*"``): what right-sizing may do there."""

    profile: str | None = None
    cpu_percentile: float | None = None
    memory_percentile: float | None = None
    exclude: bool = False
    cpu: ResourceBounds = field(default_factory=ResourceBounds)
    memory: ResourceBounds = field(default_factory=ResourceBounds)
    #: the config keys that set this (for reasons): e.g. ('workloads."kianax/*"',)
    sources: tuple[str, ...] = ()


_BOUND_KEYS = ("min_request", "max_request", "min_limit", "max_limit")
_GUARDRAIL_KEYS = ("profile", "cpu_percentile", "memory_percentile", "exclude", "cpu", "memory")


def parse_workload_guardrails(
    data: Mapping[str, Any], where: str = DEFAULT_CONFIG_FILE
) -> dict[str, WorkloadGuardrails]:
    """``[workloads]`` -> pattern -> guardrails, every key and value checked (one-line errors)."""
    from kianax_capacity.units import parse_cpu, parse_memory

    if not isinstance(data, Mapping):
        raise ConfigError(f'{where} [workloads]: expected tables [workloads."namespace/name"]')
    out: dict[str, WorkloadGuardrails] = {}
    for pattern, spec in data.items():
        key = f'workloads."{pattern}"'
        namespace, _, name = str(pattern).partition("/")
        if not namespace or not name or "/" in name or ("*" in name and name != "*"):
            raise ConfigError(
                f'{where} [{key}]: expected "namespace/name" or "namespace/*", got {pattern!r}'
            )
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where} [{key}]: expected a table")
        unknown = sorted(set(spec) - set(_GUARDRAIL_KEYS))
        if unknown:
            raise ConfigError(
                f"{where} [{key}]: unknown key(s) {', '.join(unknown)}; known: "
                f"{', '.join(_GUARDRAIL_KEYS)}"
            )
        values: dict[str, Any] = {"sources": (key,)}
        if "profile" in spec:
            if spec["profile"] not in PROFILES:
                raise ConfigError(
                    f"{where} [{key}] profile: must be one of {', '.join(PROFILES)}, got "
                    f"{spec['profile']!r}"
                )
            values["profile"] = spec["profile"]
        for name_ in ("cpu_percentile", "memory_percentile"):
            if name_ in spec:
                value = spec[name_]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not 0 < value <= 100
                ):
                    raise ConfigError(
                        f"{where} [{key}] {name_}: expected a percentile in (0, 100], got {value!r}"
                    )
                values[name_] = float(value)
        if "exclude" in spec:
            if not isinstance(spec["exclude"], bool):
                raise ConfigError(f"{where} [{key}] exclude: expected true or false")
            values["exclude"] = spec["exclude"]
        for resource, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
            if resource in spec:
                values[resource] = _bounds(
                    spec[resource],
                    f"{where} [{key}.{resource}]",
                    parse,
                    allow_decrease=resource == "memory",
                )
        out[str(pattern)] = WorkloadGuardrails(**values)
    return out


def _bounds(data: Any, where: str, parse: Any, *, allow_decrease: bool) -> ResourceBounds:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    known = (*_BOUND_KEYS, "allow_decrease") if allow_decrease else _BOUND_KEYS
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    values: dict[str, Any] = {}
    for name in _BOUND_KEYS:
        if name in data:
            raw = data[name]
            try:
                if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                    raise ValueError(raw)
                value = float(parse(raw))
            except (ValueError, ArithmeticError, TypeError, UserInputError):
                raise ConfigError(
                    f'{where} {name}: expected a quantity such as "250m" or "256Mi", got {raw!r}'
                ) from None
            if value <= 0:
                raise ConfigError(f"{where} {name}: must be above zero, got {raw!r}")
            values[name] = value
    if "allow_decrease" in data:
        if not isinstance(data["allow_decrease"], bool):
            raise ConfigError(f"{where} allow_decrease: expected true or false")
        values["allow_decrease"] = data["allow_decrease"]
    for low, high in (
        ("min_request", "max_request"),
        ("min_limit", "max_limit"),
        ("min_request", "max_limit"),
    ):
        if low in values and high in values and values[low] > values[high]:
            raise ConfigError(f"{where} {low}: {data[low]!r} is above {high} {data[high]!r}")
    return ResourceBounds(**values)


def merge_guardrails(
    guardrails: Mapping[str, WorkloadGuardrails], namespace: str, workload: str
) -> WorkloadGuardrails | None:
    """The guardrails of one workload: ``"ns/*"`` first, ``"ns/name"`` over it key by key."""
    wildcard = guardrails.get(f"{namespace}/*")
    exact = guardrails.get(f"{namespace}/{workload}")
    if wildcard is None or exact is None:
        return exact or wildcard
    default = WorkloadGuardrails()

    def pick(a: Any, b: Any, empty: Any) -> Any:
        return b if b != empty else a

    def bounds(a: ResourceBounds, b: ResourceBounds) -> ResourceBounds:
        return ResourceBounds(
            **{
                f.name: pick(
                    getattr(a, f.name), getattr(b, f.name), getattr(ResourceBounds(), f.name)
                )
                for f in fields(ResourceBounds)
            }
        )

    return WorkloadGuardrails(
        profile=pick(wildcard.profile, exact.profile, default.profile),
        cpu_percentile=pick(wildcard.cpu_percentile, exact.cpu_percentile, None),
        memory_percentile=pick(wildcard.memory_percentile, exact.memory_percentile, None),
        exclude=wildcard.exclude or exact.exclude,
        cpu=bounds(wildcard.cpu, exact.cpu),
        memory=bounds(wildcard.memory, exact.memory),
        sources=(*wildcard.sources, *exact.sources),
    )


@dataclass(frozen=True)
class HelmConfig:
    charts: str = "charts"
    values_file: str = "values-prod.yaml"
    chart_for: Mapping[str, str] = field(default_factory=dict)  # workload -> chart folder name
    # Key paths come from the chart's templates or the shipped table; these two are only for
    # charts whose layout is unknown ("" = refuse such rows instead of guessing).
    resources_path: str = ""  # dotted key path of the main container's resources
    autoscaling_path: str = ""  # dotted key path of the HPA settings
    container_paths: Mapping[str, str] = field(default_factory=dict)  # "workload/container" -> path
    values_stack: tuple[str, ...] = ()  # values files between values.yaml and values_file
    strict: bool = False  # exit 1 when any row is skipped (what a CI job wants)
    # ArgoCD: the folder of Application manifests ("" = plain charts) and the local checkout
    # every Git repoURL / $ref of those Applications resolves to.
    argocd: str = ""
    repo_root: str = "."


@dataclass(frozen=True)
class ClusterConfig:
    """``[clusters.NAME]``: one cluster of a fleet (``fetch``/``report`` with several clusters).

    Either its own Prometheus (``prometheus_url``) or the shared ``[prometheus]`` with a label
    that tells clusters apart (``cluster_label``; ``cluster_value`` defaults to the name).
    ``profile`` and ``nodegroups`` replace the top-level ones for this cluster.
    """

    name: str
    prometheus_url: str | None = None
    cluster_label: str | None = None
    cluster_value: str | None = None
    profile: str | None = None
    nodegroups: Mapping[str, NodeGroupConfig] = field(default_factory=dict)


_CLUSTER_KEYS = ("prometheus_url", "cluster_label", "cluster_value", "profile", "nodegroups")


def parse_clusters(
    data: Any, where: str = DEFAULT_CONFIG_FILE, shared_label: str | None = None
) -> dict[str, ClusterConfig]:
    """``[clusters]`` -> name -> :class:`ClusterConfig`, every key checked (one-line errors).

    ``shared_label`` is ``[prometheus] cluster_label``: a ``cluster_value`` needs it or its own.
    """
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"{where} [clusters]: expected tables [clusters.<name>]")
    out: dict[str, ClusterConfig] = {}
    for name, spec in data.items():
        key = f"[clusters.{name}]"
        if not re.fullmatch(r"[A-Za-z0-9._-]+", str(name)):
            raise ConfigError(
                f"{where} {key}: a cluster name is letters, digits, '.', '_' and '-' "
                "(it names the snapshot and report folders)"
            )
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where} {key}: expected a table")
        unknown = sorted(set(spec) - set(_CLUSTER_KEYS))
        if unknown:
            raise ConfigError(
                f"{where} {key}: unknown key(s) {', '.join(unknown)}; known: "
                f"{', '.join(_CLUSTER_KEYS)}"
            )
        values: dict[str, Any] = {"name": str(name)}
        for text in ("prometheus_url", "cluster_label", "cluster_value", "profile"):
            if text in spec:
                if not isinstance(spec[text], str) or not spec[text]:
                    raise ConfigError(f"{where} {key} {text}: must be a non-empty string")
                values[text] = spec[text]
        if values.get("profile", "production") not in PROFILES:
            raise ConfigError(
                f"{where} {key} profile: must be one of {', '.join(PROFILES)}, got "
                f"{values['profile']!r}"
            )
        if "cluster_value" in values and "cluster_label" not in values and not shared_label:
            raise ConfigError(
                f"{where} {key} cluster_value: needs cluster_label (the label whose value "
                'it is) here or in [prometheus], e.g. cluster_label = "cluster"'
            )
        if "prometheus_url" in values and not values["prometheus_url"].startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"{where} {key} prometheus_url: expected an http:// or https:// URL")
        if "nodegroups" in spec:
            groups = spec["nodegroups"]
            if not isinstance(groups, Mapping):
                raise ConfigError(
                    f"{where} {key} nodegroups: expected tables [clusters.{name}.nodegroups.<group>]"
                )
            values["nodegroups"] = {
                group: _build(
                    NodeGroupConfig, group_spec, f"{where} [clusters.{name}.nodegroups.{group}]"
                )
                for group, group_spec in groups.items()
            }
        out[str(name)] = ClusterConfig(**values)
    return out


@dataclass(frozen=True)
class Config:
    cluster: str = "kianax-production"
    profile: str = "production"
    strategy: str = "kianax"
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)
    nodegroups: Mapping[str, NodeGroupConfig] = field(default_factory=dict)
    exclusions: ExclusionsConfig = field(default_factory=ExclusionsConfig)
    spot_overrides: Mapping[str, bool] = field(default_factory=dict)  # "ns/workload" -> ready
    helm: HelmConfig = field(default_factory=HelmConfig)
    #: right-sizing guardrails by "namespace/name" or "namespace/*"
    workloads: Mapping[str, WorkloadGuardrails] = field(default_factory=dict)
    #: ``[clusters.NAME]``: the fleet that ``fetch``/``report`` read when no single --cluster
    clusters: Mapping[str, ClusterConfig] = field(default_factory=dict)

    def for_cluster(self, name: str) -> Config:
        """This config as it applies to cluster ``name``: its profile and node groups on top."""
        spec = self.clusters.get(name)
        if spec is None:
            return replace(self, cluster=name)
        return replace(
            self,
            cluster=name,
            profile=spec.profile or self.profile,
            nodegroups={**self.nodegroups, **spec.nodegroups},
        )

    def override(self, **changes: Any) -> Config:
        """A copy with the non-None ``changes`` applied (CLI flags win over the file)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(cls(), name) if _has_default(cls) else None
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}.{name}: expected a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{name}: expected true or false, got {value!r}")
        elif isinstance(default, int | float) and (
            not isinstance(value, int | float) or isinstance(value, bool)
        ):
            raise ConfigError(f"{where}.{name}: expected a number, got {value!r}")
        values[name] = value
    try:
        return cls(**values)
    except ConfigError as exc:
        # A check across keys (``__post_init__``): say which table it was in.
        raise ConfigError(f"{where}.{exc}") from exc


def _has_default(cls: type) -> bool:
    try:
        cls()
    except TypeError:
        return False
    return True


def parse_config(data: Mapping[str, Any], where: str = DEFAULT_CONFIG_FILE) -> Config:
    """Build a :class:`Config` from parsed TOML, rejecting unknown keys and bad types."""
    sections = {
        "prometheus": PrometheusConfig,
        "aws": AwsConfig,
        "exclusions": ExclusionsConfig,
        "helm": HelmConfig,
    }
    top_known = {f.name for f in fields(Config)}
    unknown = sorted(set(data) - top_known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(top_known))}"
        )
    values: dict[str, Any] = {}
    for name in ("cluster", "profile", "strategy"):
        if name in data:
            if not isinstance(data[name], str) or not data[name]:
                raise ConfigError(f"{where}: {name} must be a non-empty string")
            values[name] = data[name]
    if values.get("profile", "production") not in PROFILES:
        raise ConfigError(f"{where}: profile must be one of {', '.join(PROFILES)}")
    for name, cls in sections.items():
        if name in data:
            values[name] = _build(cls, data[name], f"{where} [{name}]")
    if "nodegroups" in data:
        groups = data["nodegroups"]
        if not isinstance(groups, Mapping):
            raise ConfigError(f"{where} [nodegroups]: expected tables [nodegroups.<name>]")
        values["nodegroups"] = {
            group: _build(NodeGroupConfig, spec, f"{where} [nodegroups.{group}]")
            for group, spec in groups.items()
        }
    if "spot_overrides" in data:
        overrides = data["spot_overrides"]
        if not isinstance(overrides, Mapping) or not all(
            isinstance(v, bool) for v in overrides.values()
        ):
            raise ConfigError(
                f'{where} [spot_overrides]: expected "namespace/workload" = true|false'
            )
        values["spot_overrides"] = dict(overrides)
    if "workloads" in data:
        values["workloads"] = parse_workload_guardrails(data["workloads"], where)
    if "clusters" in data:
        shared = values.get("prometheus", PrometheusConfig()).cluster_label
        values["clusters"] = parse_clusters(data["clusters"], where, shared_label=shared)
    return Config(**values)


def load_config(path: Path | str | None = None) -> Config:
    """Load ``path``, or ``./kianax-capacity.toml`` when present, else the defaults.

    Raises:
        ConfigError: the file given does not exist, is not TOML, or has unknown keys.
    """
    if path is None:
        candidate = Path(DEFAULT_CONFIG_FILE)
        if not candidate.is_file():
            return Config()
        path = candidate
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config ({exc})") from exc
    return parse_config(data, where=str(file))
