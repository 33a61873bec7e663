"""The scheduling examples in docs/examples parse and say what the docs promise."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from kianax_capacity.cli import build_parser

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _documents(name: str) -> list[dict]:  # type: ignore[type-arg]
    return [doc for doc in YAML(typ="safe").load_all((EXAMPLES / name).read_text()) if doc]


def test_cronjob_runs_in_monitoring_with_an_irsa_service_account() -> None:
    docs = {doc["kind"]: doc for doc in _documents("cronjob.yaml")}
    assert set(docs) == {"ServiceAccount", "CronJob"}
    account, cron = docs["ServiceAccount"], docs["CronJob"]
    assert account["metadata"]["namespace"] == cron["metadata"]["namespace"] == "monitoring"
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    assert cron["apiVersion"] == "batch/v1"
    assert len(cron["spec"]["schedule"].split()) == 5
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    container = pod["containers"][0]
    env = {item["name"] for item in container["env"]}
    assert {"AWS_REGION", "AMP_QUERY_URL"} <= env
    assert "--auth=sigv4" in container["args"]
    assert any(arg.startswith("--upload=s3://") for arg in container["args"])


def test_cronjob_arguments_are_accepted_by_the_cli() -> None:
    """The manifest's flags are real flags of `report` (a renamed flag would break the job)."""
    cron = next(doc for doc in _documents("cronjob.yaml") if doc["kind"] == "CronJob")
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    resolved = [arg.replace("$(AMP_QUERY_URL)", "https://aps.example") for arg in args]
    parsed = build_parser().parse_args(resolved)
    assert parsed.command == "report" and parsed.source == "prometheus" and parsed.auth == "sigv4"
    assert parsed.upload == "s3://kianax-capacity-reports/weekly"


def test_workflow_is_a_weekly_schedule_that_uploads() -> None:
    (workflow,) = _documents("weekly-report-workflow.yml")
    triggers = workflow.get("on") or workflow.get(True)  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"] == "0 6 * * 1"
    steps = workflow["jobs"]["report"]["steps"]
    script = next(
        step["run"] for step in steps if step.get("name") == "Build and upload the report"
    )
    assert "kianax-capacity report" in script and '--upload "$REPORT_BUCKET"' in script
