import pytest

from kianax_capacity.config import Config, load_config, parse_config
from kianax_capacity.errors import ConfigError


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config()


def test_full_file(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text(
        'cluster = "prod-eu"\nprofile = "high-availability"\n'
        '[prometheus]\nurl = "https://prom"\nauth = "bearer"\nbearer_token_env = "PROM_TOKEN"\n'
        '[aws]\nregion = "eu-west-1"\n'
        '[nodegroups.general-ng]\ninstance_types = ["t3.medium"]\nmin_size = 2\nmax_size = 5\n'
        '[exclusions]\nnamespaces = ["kube-system"]\n'
        '[spot_overrides]\n"kianax/risk-service" = false\n'
    )
    config = load_config(path)
    assert config.cluster == "prod-eu" and config.profile == "high-availability"
    assert config.prometheus.bearer_token_env == "PROM_TOKEN"
    assert config.nodegroups["general-ng"].instance_types == ("t3.medium",)
    assert config.exclusions.namespaces == ("kube-system",)
    assert config.spot_overrides == {"kianax/risk-service": False}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"clustr": "x"}, "unknown key(s) clustr"),
        ({"prometheus": {"ur": "x"}}, "[prometheus]: unknown key(s) ur"),
        ({"profile": "cheap"}, "profile must be one of"),
        ({"prometheus": {"timeout_seconds": "10"}}, "expected a number"),
        ({"exclusions": {"namespaces": "kube-system"}}, "expected a list of strings"),
        ({"aws": {"allow_graviton": "yes"}}, "expected true or false"),
        ({"nodegroups": {"g": {"min": 1}}}, "[nodegroups.g]: unknown key(s) min"),
    ],
)
def test_bad_values_are_named(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert message in str(info.value)


def test_not_toml_and_missing(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text("cluster = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_nodegroup_credit_and_autoscaler_keys() -> None:
    from kianax_capacity.config import parse_config

    config = parse_config(
        {
            "nodegroups": {
                "general-ng": {
                    "cpu_credits": "standard",
                    "system_cpu_allowance_cores": 0.1,
                    "scale_down_utilization_threshold": 0.6,
                    "scale_down_unneeded_seconds": 300,
                }
            }
        }
    )
    group = config.nodegroups["general-ng"]
    assert (group.cpu_credits, group.system_cpu_allowance_cores) == ("standard", 0.1)
    assert (group.scale_down_utilization_threshold, group.scale_down_unneeded_seconds) == (0.6, 300)
    assert group.scale_down_delay_after_add_seconds == 600.0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cpu_credits", "burst", "use one of unlimited, standard"),
        ("system_cpu_allowance_cores", -1, "expected cores >= 0"),
        ("scale_down_utilization_threshold", 50, "in (0, 1]"),
    ],
)
def test_bad_nodegroup_keys_name_the_table(key: str, value: object, message: str) -> None:
    from kianax_capacity.config import parse_config
    from kianax_capacity.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[nodegroups\.general-ng\]") as info:
        parse_config({"nodegroups": {"general-ng": {key: value}}})
    assert message in str(info.value)
