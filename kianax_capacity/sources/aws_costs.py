"""What AWS billed for the cluster: Cost Explorer and CUR 2.0 / Data Exports in S3.

Both readers return a *billed frame* (:data:`BILLED_COLUMNS`) that
:func:`kianax_capacity.recommenders.costs.reconcile` compares with the estimate:

* :func:`cost_explorer_costs` — ``get_cost_and_usage``, daily, filtered to the cluster by its
  tags (``eks:cluster-name``, ``eks:eks-cluster-name``, ``kubernetes.io/cluster/<name>``),
  grouped by node-group tag x instance type (and, in a second request, purchase type x
  instance type). Cost Explorer has no paginator: ``NextPageToken`` is followed by hand. Every
  request costs USD 0.01, so finished answers are cached on disk keyed by the request.
* :func:`cur_costs` — CUR 2.0 Parquet files listed by an export's ``Manifest.json``, including
  EKS split cost allocation (``split_line_item_split_cost``, ``split_line_item_unused_cost``,
  ``split_line_item_parent_resource_id``) for billed cost per namespace and workload.

The tags must be activated as cost allocation tags in the Billing console before either
source can see them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kianax_capacity.errors import AwsError, UserInputError
from kianax_capacity.sources.aws_prices import aws_errors, boto3, make_client

__all__ = [
    "BILLED_COLUMNS",
    "DEFAULT_CACHE_DIR",
    "NODE_GROUP_TAG",
    "RATE_COLUMNS",
    "UNTAGGED",
    "CostExplorerCosts",
    "cluster_filter",
    "cost_explorer_costs",
    "cur_costs",
    "cur_node_rates",
    "read_cur_manifest",
]

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path(".kianax-cache")
#: The tag EKS managed node groups put on their instances (Karpenter: karpenter.sh/nodepool).
NODE_GROUP_TAG = "eks:nodegroup-name"
#: Node group of billed lines that carry no node-group tag (EBS, NAT, untagged instances).
UNTAGGED = "(untagged)"
#: Columns of a billed frame. namespace/workload are NaN for node-level lines.
BILLED_COLUMNS = [
    "day",
    "node_group",
    "instance_type",
    "purchase_type",
    "namespace",
    "workload",
    "cost_usd",
    "unused_cost_usd",
    "source",
]
_CE_REGION = "us-east-1"  # Cost Explorer's only endpoint


def _empty_billed() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="object") for column in BILLED_COLUMNS})
    frame["day"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["cost_usd"] = pd.Series(dtype="float64")
    frame["unused_cost_usd"] = pd.Series(dtype="float64")
    return frame


def cluster_filter(cluster: str) -> dict[str, Any]:
    """A Cost Explorer filter matching resources tagged as belonging to ``cluster``."""
    return {
        "Or": [
            {"Tags": {"Key": "eks:cluster-name", "Values": [cluster], "MatchOptions": ["EQUALS"]}},
            {
                "Tags": {
                    "Key": "eks:eks-cluster-name",
                    "Values": [cluster],
                    "MatchOptions": ["EQUALS"],
                }
            },
            {
                "Tags": {
                    "Key": f"kubernetes.io/cluster/{cluster}",
                    "Values": ["owned", "shared"],
                    "MatchOptions": ["EQUALS"],
                }
            },
        ]
    }


@dataclass(frozen=True)
class CostExplorerCosts:
    """Cost Explorer's answer for a cluster (USD per day).

    Attributes:
        by_node_group: a billed frame by day, node group (tag) and instance type.
        by_purchase_type: a billed frame by day, purchase type and instance type
            (node_group is ``"(all)"``).
        requests: API requests sent (USD 0.01 each).
        cached_requests: requests answered from the on-disk cache instead.
    """

    by_node_group: pd.DataFrame = field(repr=False)
    by_purchase_type: pd.DataFrame = field(repr=False)
    requests: int = 0
    cached_requests: int = 0


class _ResponseCache:
    """Finished Cost Explorer answers on disk, one JSON file per request (keyed by its hash)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"ce-{key}.json"

    def get(self, key: str) -> list[dict[str, Any]] | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            results: list[dict[str, Any]] = json.loads(path.read_text())["results"]
            return results
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable Cost Explorer cache file %s", path)
            return None

    def put(self, key: str, request: Mapping[str, Any], results: list[dict[str, Any]]) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".ce-", dir=path.parent)
            with os.fdopen(handle, "w") as out:
                json.dump({"request": request, "results": results}, out)
            os.replace(temporary, path)
        except OSError as exc:
            # A cache that cannot be written costs money next time, but must not fail the run.
            logger.warning("cannot write the Cost Explorer cache in %s: %s", path.parent, exc)


def _request_key(request: Mapping[str, Any], account_hint: str) -> str:
    text = json.dumps({"account": account_hint, "request": request}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _get_all_pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs = dict(request, NextPageToken=token) if token else request
        with aws_errors("ce", "get_cost_and_usage", _CE_REGION):
            page = client.get_cost_and_usage(**kwargs)
        results.extend(page.get("ResultsByTime", []))
        token = page.get("NextPageToken")
        if not token:
            return results


def _parse_results(
    results: Iterable[Mapping[str, Any]], metric: str, group_columns: tuple[str, str]
) -> pd.DataFrame:
    rows = []
    for result in results:
        day = pd.Timestamp(result["TimePeriod"]["Start"], tz="UTC")
        for group in result.get("Groups", []):
            values = [_group_value(key) for key in group.get("Keys", [])]
            values += [UNTAGGED] * (2 - len(values))
            amount = float(group.get("Metrics", {}).get(metric, {}).get("Amount", 0.0))
            rows.append(
                {
                    "day": day,
                    group_columns[0]: values[0],
                    group_columns[1]: values[1],
                    "cost_usd": amount,
                }
            )
    frame = _empty_billed() if not rows else pd.DataFrame(rows)
    for column in BILLED_COLUMNS:
        if column not in frame:
            frame[column] = float("nan") if column == "unused_cost_usd" else None
    frame["source"] = "cost-explorer"
    if "node_group" in group_columns:
        frame["node_group"] = frame["node_group"].fillna(UNTAGGED)
    else:
        frame["node_group"] = "(all)"
    return frame[BILLED_COLUMNS]


def _group_value(key: str) -> str:
    # Tag groups come back as "tag-key$value" ("tag-key$" when the resource has no such tag).
    if "$" in key:
        value = key.split("$", 1)[1]
        return value or UNTAGGED
    return key or UNTAGGED


def cost_explorer_costs(
    cluster: str,
    start: date,
    end: date,
    *,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    client: Any = None,
    cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
    metric: str = "UnblendedCost",
    node_group_tag: str = NODE_GROUP_TAG,
) -> CostExplorerCosts:
    """Daily billed cost of ``cluster`` from Cost Explorer, for days in [start, end).

    Args:
        cluster: EKS cluster name, as in its resources' tags.
        start: first day (inclusive).
        end: last day (exclusive), as Cost Explorer counts.
        session: boto3 session (default credential chain).
        endpoint_url: override the endpoint (moto in tests).
        client: a ready ``ce`` client (tests); otherwise one is made in us-east-1.
        cache_dir: where finished answers are kept (None: no cache). Answers that contain an
            estimated (not yet final) day are not cached, so they are fetched fresh next time.
        metric: ``UnblendedCost`` (default), ``AmortizedCost`` (spreads Savings Plans and RIs),
            ``NetUnblendedCost`` ...
        node_group_tag: the cost allocation tag that names node groups.

    Raises:
        UserInputError: start is not before end.
        AwsError: credentials, permission (``ce:GetCostAndUsage``), throttling.
    """
    if start >= end:
        raise UserInputError(
            f"Cost Explorer window {start}..{end} is empty: the end must be after the start"
        )
    cache = _ResponseCache(Path(cache_dir) if cache_dir is not None else None)
    ce = client or make_client("ce", _CE_REGION, session, endpoint_url)
    base = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [metric],
        "Filter": cluster_filter(cluster),
    }
    # Cost Explorer allows two GroupBy keys per request: node group x instance type answers the
    # reconciliation, purchase type x instance type shows spot / on-demand / Savings Plan use.
    groupings = {
        "by_node_group": (
            [{"Type": "TAG", "Key": node_group_tag}, {"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}],
            ("node_group", "instance_type"),
        ),
        "by_purchase_type": (
            [
                {"Type": "DIMENSION", "Key": "PURCHASE_TYPE"},
                {"Type": "DIMENSION", "Key": "INSTANCE_TYPE"},
            ],
            ("purchase_type", "instance_type"),
        ),
    }
    account_hint = (
        session.profile_name if session is not None else os.environ.get("AWS_PROFILE")
    ) or ""
    frames: dict[str, pd.DataFrame] = {}
    sent = cached = 0
    for name, (group_by, columns) in groupings.items():
        request = dict(base, GroupBy=group_by)
        key = _request_key(request, account_hint + (endpoint_url or ""))
        results = cache.get(key)
        if results is None:
            results = _get_all_pages(ce, request)
            sent += 1
            if not any(result.get("Estimated") for result in results):
                cache.put(key, request, results)
        else:
            cached += 1
        frames[name] = _parse_results(results, metric, columns)
    return CostExplorerCosts(
        by_node_group=frames["by_node_group"],
        by_purchase_type=frames["by_purchase_type"],
        requests=sent,
        cached_requests=cached,
    )


# --- CUR 2.0 / Data Exports ----------------------------------------------------------------

_S3_URI = re.compile(r"^s3://([^/]+)/(.+)$")


def _split_s3(uri: str) -> tuple[str, str]:
    match = _S3_URI.match(uri.strip())
    if not match:
        raise UserInputError(f"not an S3 URI: {uri!r}; give s3://bucket/path/to/Manifest.json")
    return match.group(1), match.group(2)


def _get_object(s3: Any, bucket: str, key: str, region: str) -> bytes:
    with aws_errors("s3", "get_object", region):
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except s3.exceptions.NoSuchKey as exc:
            raise AwsError(
                f"s3://{bucket}/{key} does not exist: check the CUR manifest path"
            ) from exc


def read_cur_manifest(s3: Any, manifest_uri: str, region: str = "us-east-1") -> list[str]:
    """The S3 URIs of the data files a CUR export's manifest lists.

    Understands the Data Exports (CUR 2.0) manifest (``dataFiles``: S3 URIs) and the legacy
    CUR manifest (``bucket`` + ``reportKeys``).
    """
    bucket, key = _split_s3(manifest_uri)
    try:
        manifest = json.loads(_get_object(s3, bucket, key, region))
    except ValueError as exc:
        raise AwsError(f"{manifest_uri} is not a JSON CUR manifest: check the path") from exc
    if isinstance(manifest.get("dataFiles"), list):
        return [str(uri) for uri in manifest["dataFiles"]]
    if isinstance(manifest.get("reportKeys"), list):
        report_bucket = manifest.get("bucket", bucket)
        return [f"s3://{report_bucket}/{k}" for k in manifest["reportKeys"]]
    raise AwsError(
        f"{manifest_uri} lists no data files (no dataFiles or reportKeys): check the export"
    )


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def _tag_columns(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Every resource tag as a column, keyed by its normalised name (``aws_eks_namespace``...).

    CUR 2.0 has one ``resource_tags`` map column (keys like ``user_team`` or ``aws_eks_namespace``
    depending on the exporter); legacy CUR Parquet has flat ``resource_tags_*`` columns.
    """
    tags: dict[str, pa.ChunkedArray] = {}
    for name in table.column_names:
        if name.startswith("resource_tags_"):
            tags[_norm(name.removeprefix("resource_tags_"))] = table.column(name)
    if "resource_tags" in table.column_names:
        column = table.column("resource_tags")
        if pa.types.is_map(column.type):
            keys: set[str] = set()
            for chunk in column.chunks:
                keys.update(str(k) for k in chunk.keys.unique().to_pylist() if k is not None)
            for key in sorted(keys):
                tags.setdefault(
                    _norm(key), pc.map_lookup(column, pa.scalar(key, column.type.key_type), "first")
                )
    return tags


def _first_tag(
    tags: Mapping[str, pa.ChunkedArray], suffixes: Iterable[str], rows: int
) -> pd.Series:
    """The first non-empty value among tags whose normalised key ends with one of ``suffixes``."""
    result = pd.Series([None] * rows, dtype="object")
    for suffix in suffixes:
        for key, values in tags.items():
            if key == suffix or key.endswith("_" + suffix):
                series = pd.Series(values.to_pylist(), dtype="object").replace("", None)
                result = result.fillna(series)
    return result


def _column(table: pa.Table, names: Iterable[str], default: Any = None) -> pd.Series:
    for name in names:
        if name in table.column_names:
            return pd.Series(table.column(name).to_pylist(), dtype="object")
    return pd.Series([default] * table.num_rows, dtype="object")


def _cur_frame(table: pa.Table, cluster: str) -> pd.DataFrame:
    rows = table.num_rows
    tags = _tag_columns(table)
    cluster_norm = _norm(cluster)
    named = _first_tag(tags, ["eks_cluster_name", "eks_eks_cluster_name"], rows)
    owned = pd.Series(False, index=range(rows))
    for key, values in tags.items():
        if key.endswith(f"kubernetes_io_cluster_{cluster_norm}"):
            owned |= pd.Series(values.to_pylist(), dtype="object").fillna("").ne("")
    in_cluster = named.eq(cluster) | owned
    cost = pd.to_numeric(_column(table, ["line_item_unblended_cost"], 0.0), errors="coerce").fillna(
        0.0
    )
    split = pd.to_numeric(_column(table, ["split_line_item_split_cost"]), errors="coerce")
    unused = pd.to_numeric(_column(table, ["split_line_item_unused_cost"]), errors="coerce")
    parent = _column(table, ["split_line_item_parent_resource_id"])
    product = _column(table, ["product_instance_type"])
    if (
        product.isna().all()
        and "product" in table.column_names
        and pa.types.is_map(table.column("product").type)
    ):
        column = table.column("product")
        product = pd.Series(
            pc.map_lookup(
                column, pa.scalar("instance_type", column.type.key_type), "first"
            ).to_pylist(),
            dtype="object",
        )
    start = pd.to_datetime(_column(table, ["line_item_usage_start_date"]), utc=True)
    frame = pd.DataFrame(
        {
            "day": start.dt.floor("D"),
            "node_group": _first_tag(
                tags, ["eks_nodegroup_name", "karpenter_sh_nodepool"], rows
            ).fillna(UNTAGGED),
            "instance_type": product,
            "purchase_type": _column(table, ["pricing_term", "pricing_purchase_option"]),
            "namespace": _first_tag(tags, ["aws_eks_namespace", "kubernetes_namespace"], rows),
            "workload": _first_tag(tags, ["aws_eks_workload_name", "aws_eks_deployment"], rows),
            "is_split": parent.notna() & parent.ne(""),
            "line_cost": cost,
            "split_cost": split,
            "unused_cost": unused,
        }
    )
    return frame[in_cluster.to_numpy()]


def cur_costs(
    manifest_uri: str,
    cluster: str,
    *,
    region: str = "us-east-1",
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Billed cost of ``cluster`` from a CUR 2.0 export, by day, node group and namespace.

    Args:
        manifest_uri: ``s3://bucket/prefix/export/metadata/BILLING_PERIOD=YYYY-MM/...Manifest.json``.
        cluster: the EKS cluster name in the resources' tags.
        region: the bucket's region.
        session, endpoint_url, client: as for :func:`cost_explorer_costs` (service ``s3``).

    Returns:
        A billed frame: node-level rows (EC2 and other resources tagged with the cluster;
        namespace NaN, cost_usd = unblended cost) and, when EKS split cost allocation is on,
        pod-level rows (namespace and workload from the ``aws:eks:*`` tags, cost_usd = split
        cost, unused_cost_usd = the pod's share of the instance's unused cost).

    Raises:
        AwsError: the manifest or a data file cannot be read.
    """
    s3 = client or make_client("s3", region, session, endpoint_url)
    frames = [_cur_frame(table, cluster) for table in _cur_tables(s3, manifest_uri, region)]
    if not frames or all(frame.empty for frame in frames):
        return _empty_billed()
    lines = pd.concat(frames, ignore_index=True)
    keys = ["day", "node_group", "instance_type", "purchase_type"]
    nodes = (
        lines[~lines["is_split"]]
        .groupby(keys, dropna=False)["line_cost"]
        .sum()
        .reset_index()
        .rename(columns={"line_cost": "cost_usd"})
        .assign(namespace=None, workload=None, unused_cost_usd=float("nan"))
    )
    pods = lines[lines["is_split"] & lines["namespace"].notna()]
    pods = (
        pods.assign(workload=pods["workload"].fillna("(none)"))
        .groupby(["day", "namespace", "workload"])[["split_cost", "unused_cost"]]
        .sum()
        .reset_index()
        .rename(columns={"split_cost": "cost_usd", "unused_cost": "unused_cost_usd"})
        .assign(node_group="(all)", instance_type=None, purchase_type=None)
    )
    billed = pd.concat([nodes, pods], ignore_index=True).assign(source="cur")
    return (
        billed[BILLED_COLUMNS]
        .sort_values(["day", "node_group"], kind="stable")
        .reset_index(drop=True)
    )


# --- Effective (amortized) rates of node-hours, from CUR 2.0 ---------------------------------

#: Columns of :func:`cur_node_rates`: instance-hours of the cluster's nodes by node group,
#: instance type and how they were paid, with their public on-demand and amortized cost.
RATE_COLUMNS = [
    "node_group",
    "instance_type",
    "line_item_type",  # Usage | SavingsPlanCoveredUsage | DiscountedUsage | CPUCredits | ...
    "purchase_option",  # OnDemand | Spot | SavingsPlan | Reserved | Commitment
    "usage_hours",
    "public_on_demand_usd",
    "amortized_usd",
    "period_start",
    "period_end",
]


def _number(table: pa.Table, names: Iterable[str]) -> pd.Series:
    return pd.to_numeric(_column(table, names, 0.0), errors="coerce").fillna(0.0)


def _rate_lines(table: pa.Table, cluster: str) -> pd.DataFrame:
    """The EC2 instance-hour, CPU-credit and Savings Plan fee lines of one CUR 2.0 file.

    Amortized cost per line as AWS's CUR Query Library computes it ("Unblended, Blended,
    Amortized, and Net Costs", awslabs/aws-well-architected-labs): a Savings Plan covered line
    costs its ``savings_plan_savings_plan_effective_cost``, a reserved line its
    ``reservation_effective_cost``, the negation of covered usage nothing, the recurring fee
    only the commitment left unused (``total_commitment_to_date - used_commitment``), and
    every other line its unblended cost.
    """
    rows = table.num_rows
    tags = _tag_columns(table)
    named = _first_tag(tags, ["eks_cluster_name", "eks_eks_cluster_name"], rows)
    owned = pd.Series(False, index=range(rows))
    for key, values in tags.items():
        if key.endswith(f"kubernetes_io_cluster_{_norm(cluster)}"):
            owned |= pd.Series(values.to_pylist(), dtype="object").fillna("").ne("")
    kind = _column(table, ["line_item_line_item_type"]).fillna("")
    usage_type = _column(table, ["line_item_usage_type"]).fillna("").astype(str)
    product = _column(table, ["line_item_product_code"]).fillna("")
    unblended = _number(table, ["line_item_unblended_cost"])
    amortized = unblended.where(kind == "Usage", 0.0)
    amortized = amortized.where(
        kind != "SavingsPlanCoveredUsage",
        _number(table, ["savings_plan_savings_plan_effective_cost"]),
    )
    amortized = amortized.where(
        kind != "DiscountedUsage", _number(table, ["reservation_effective_cost"])
    )
    unused_commitment = _number(table, ["savings_plan_total_commitment_to_date"]) - _number(
        table, ["savings_plan_used_commitment"]
    )
    amortized = amortized.where(kind != "SavingsPlanRecurringFee", unused_commitment)
    credits = usage_type.str.contains("CPUCredits", regex=False)
    hours = usage_type.str.contains("BoxUsage|SpotUsage|DedicatedUsage", regex=True)
    ec2 = product.eq("AmazonEC2")
    instance_lines = (
        ec2 & hours & kind.isin(["Usage", "SavingsPlanCoveredUsage", "DiscountedUsage"])
    )
    fee_lines = kind.eq("SavingsPlanRecurringFee")
    in_cluster = named.eq(cluster) | owned
    keep = ((instance_lines | (ec2 & credits)) & in_cluster) | fee_lines
    option = pd.Series("OnDemand", index=range(rows))
    option = option.where(~usage_type.str.contains("SpotUsage", regex=False), "Spot")
    option = option.where(kind != "SavingsPlanCoveredUsage", "SavingsPlan")
    option = option.where(kind != "DiscountedUsage", "Reserved")
    option = option.where(~fee_lines, "Commitment")
    start = pd.to_datetime(_column(table, ["line_item_usage_start_date"]), utc=True)
    end = pd.to_datetime(_column(table, ["line_item_usage_end_date"]), utc=True)
    frame = pd.DataFrame(
        {
            "node_group": _first_tag(tags, ["eks_nodegroup_name", "karpenter_sh_nodepool"], rows)
            .fillna(UNTAGGED)
            .where(~fee_lines, "(savings plan)"),
            "instance_type": _column(table, ["product_instance_type"]),
            "line_item_type": kind.where(~credits, "CPUCredits"),
            "purchase_option": option,
            "usage_hours": _number(table, ["line_item_usage_amount"]).where(~credits, 0.0),
            "public_on_demand_usd": _number(table, ["pricing_public_on_demand_cost"]),
            "amortized_usd": amortized,
            "period_start": start,
            "period_end": end.fillna(start + pd.Timedelta(hours=1)),
        }
    )
    return frame[keep.to_numpy()]


def cur_node_rates(
    manifest_uri: str,
    cluster: str,
    *,
    region: str = "us-east-1",
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """What the cluster's node-hours cost at list and as billed (amortized), from CUR 2.0.

    For :func:`kianax_capacity.recommenders.commitments.effective_rates`, which turns it into an
    effective rate per node group. Savings Plan recurring-fee lines are account-wide: their
    unused commitment is one row with node group ``"(savings plan)"``.

    Args:
        manifest_uri, cluster, region, session, endpoint_url, client: as for :func:`cur_costs`.

    Returns:
        A frame of :data:`RATE_COLUMNS`, one row per (node group, instance type, line item
        type, purchase option), with the billed period each covers.

    Raises:
        AwsError: the manifest or a data file cannot be read.
    """
    s3 = client or make_client("s3", region, session, endpoint_url)
    frames = [_rate_lines(table, cluster) for table in _cur_tables(s3, manifest_uri, region)]
    lines = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RATE_COLUMNS)
    if lines.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    keys = ["node_group", "instance_type", "line_item_type", "purchase_option"]
    grouped = lines.groupby(keys, dropna=False).agg(
        usage_hours=("usage_hours", "sum"),
        public_on_demand_usd=("public_on_demand_usd", "sum"),
        amortized_usd=("amortized_usd", "sum"),
        period_start=("period_start", "min"),
        period_end=("period_end", "max"),
    )
    return grouped.reset_index()[RATE_COLUMNS]


def _cur_tables(s3: Any, manifest_uri: str, region: str) -> Iterator[pa.Table]:
    """Every Parquet data file the CUR manifest names, read one at a time.

    Raises:
        AwsError: the manifest or a data file cannot be read.
    """
    for uri in read_cur_manifest(s3, manifest_uri, region):
        bucket, key = _split_s3(uri)
        data = _get_object(s3, bucket, key, region)
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as exc:
            raise AwsError(
                f"{uri} is not a readable Parquet file ({type(exc).__name__}): "
                "check the export format"
            ) from exc
        yield table
