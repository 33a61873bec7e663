"""The weekly report's top actions: one combined action per workload, dollars counted once."""

from kianax_capacity.outputs.tables import top_actions
from kianax_capacity.recommenders.engine import recommend


def test_joint_rightsizing_and_hpa_are_one_action(demo_snapshot_full):
    recs = recommend(demo_snapshot_full)
    actions = top_actions(recs, n=100)
    resized = {(r.namespace, r.workload) for r in recs.rightsizing if r.status == "ok"}
    joint = {
        f"{r.namespace}/{r.workload}"
        for r in recs.hpa
        if r.status == "ok" and r.request_change_included and (r.namespace, r.workload) in resized
    }
    assert joint
    assert len(actions) > len(joint), "the demo has other actions beside the joint ones"
    assert len(actions) < 100, "n=100 holds every action, so every joint workload is listed"
    for workload in joint:
        mentions = actions[
            actions.action.str.startswith(f"{workload}:")
            | actions.action.str.startswith(f"{workload} ·")
        ]
        areas = [area for area in mentions.area if area != "spot"]  # spot is its own action
        # Exactly one action, the combined one: never a separate right-sizing or HPA action.
        assert areas == ["right-sizing + HPA"], (workload, areas)
    combined = actions[actions.area == "right-sizing + HPA"]
    assert len(combined) == len(joint)
    assert set(combined.action.str.split(":").str[0]) == joint
    assert (combined.action.str.contains("; HPA ")).all()
