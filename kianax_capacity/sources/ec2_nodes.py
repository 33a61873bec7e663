"""EC2 ``DescribeInstances`` for the nodes whose facts Prometheus did not have.

A default kube-prometheus-stack exports no node labels (kube-state-metrics' allowlist is
empty), but ``kube_node_info``'s ``provider_id`` names each node's EC2 instance. Where AWS
access is configured, one paginated ``DescribeInstances`` per region then gives what the labels
would have: the instance type, the zone, the lifecycle (``InstanceLifecycle="spot"``; absent
means on-demand) and the provisioner's tags (``eks:nodegroup-name`` on EKS managed node groups,
``karpenter.sh/nodepool`` on Karpenter's instances).

Instances are selected with the ``instance-id`` *filter*, not ``InstanceIds``: an instance
terminated long ago (a node that left during the window) is then simply absent from the answer
instead of failing the whole call with ``InvalidInstanceID.NotFound``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Ec2Instance", "describe_instances", "region_of_zone"]

#: DescribeInstances accepts at most 200 values per filter.
_FILTER_VALUES = 200
_ZONE = re.compile(r"^([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d+)")
_NODEGROUP_TAG = "eks:nodegroup-name"
_NODEPOOL_TAG = "karpenter.sh/nodepool"
_ASG_TAG = "aws:autoscaling:groupName"


@dataclass(frozen=True)
class Ec2Instance:
    """What EC2 says about one node's instance.

    Attributes:
        instance_id: ``i-...``.
        instance_type: e.g. ``m6i.xlarge``.
        zone: the availability zone, e.g. ``us-east-1a``.
        capacity_type: ``SPOT`` or ``ON_DEMAND`` (EC2's ``InstanceLifecycle``).
        node_group: the ``eks:nodegroup-name`` tag ("" when absent).
        nodepool: the ``karpenter.sh/nodepool`` tag ("" when absent).
        autoscaling_group: the ``aws:autoscaling:groupName`` tag ("" when absent): the group of
            a self-managed node.
    """

    instance_id: str
    instance_type: str
    zone: str
    capacity_type: str
    node_group: str = ""
    nodepool: str = ""
    autoscaling_group: str = ""


def region_of_zone(zone: str) -> str | None:
    """The region of an availability zone (``us-east-1a`` -> ``us-east-1``), or None."""
    match = _ZONE.match(zone)
    return match.group(1) if match else None


def _instance(raw: Mapping[str, Any]) -> Ec2Instance:
    tags = {str(t.get("Key", "")): str(t.get("Value", "")) for t in raw.get("Tags", [])}
    lifecycle = str(raw.get("InstanceLifecycle", "")).lower()
    return Ec2Instance(
        instance_id=str(raw["InstanceId"]),
        instance_type=str(raw.get("InstanceType", "")),
        zone=str(raw.get("Placement", {}).get("AvailabilityZone", "")),
        capacity_type="SPOT" if lifecycle == "spot" else "ON_DEMAND",
        node_group=tags.get(_NODEGROUP_TAG, ""),
        nodepool=tags.get(_NODEPOOL_TAG, ""),
        autoscaling_group=tags.get(_ASG_TAG, ""),
    )


def describe_instances(
    instance_ids: Iterable[str],
    *,
    region: str,
    session: Any = None,
    endpoint_url: str | None = None,
) -> dict[str, Ec2Instance]:
    """The instances of ``instance_ids`` that EC2 in ``region`` still knows, by instance id.

    Args:
        instance_ids: ``i-...`` ids; ids EC2 no longer knows are left out of the answer.
        region: the AWS region of the instances.
        session: boto3 session (default: the standard credential chain).
        endpoint_url: override the EC2 endpoint (moto in tests; ``AWS_ENDPOINT_URL_EC2`` works
            too, as for every botocore client).

    Raises:
        AwsError: credentials, permission (``ec2:DescribeInstances``), throttling or network,
            one line.
    """
    ids = sorted(set(instance_ids))
    if not ids:
        return {}
    # boto3 is the [aws] extra: imported only when EC2 is really asked.
    from kianax_capacity.sources.aws_prices import aws_errors, make_client

    client = make_client("ec2", region, session, endpoint_url)
    found: dict[str, Ec2Instance] = {}
    for start in range(0, len(ids), _FILTER_VALUES):
        chunk = ids[start : start + _FILTER_VALUES]
        with aws_errors("ec2", "DescribeInstances", region):
            pages = client.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": chunk}]
            )
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for raw in reservation.get("Instances", []):
                        instance = _instance(raw)
                        found[instance.instance_id] = instance
    return found
