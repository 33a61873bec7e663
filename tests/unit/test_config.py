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
