"""Configuration: file < environment < flags, validated with actionable errors."""

from __future__ import annotations

import json

import pytest

from navarch.config import SETTINGS, ConfigError, load_config, unknown_env

from .conftest import run_cli


def write(tmp_path, text):
    path = tmp_path / "navarch.yaml"
    path.write_text(text)
    return path


def test_defaults_without_any_source():
    config = load_config(file=None, env={})
    assert config["store.name"] == "lmdb"
    assert config["api.port"] == 6443
    assert set(config.sources.values()) == {"default"}


def test_precedence_file_then_env_then_flags(tmp_path):
    path = write(tmp_path, "api:\n  port: 7001\n  address: 0.0.0.0\nstore:\n  name: etcd\n")
    env = {"NAVARCH_API_PORT": "7002", "NAVARCH_STORE_NAME": "lmdb"}
    config = load_config(path, env, overrides=["api.port=7003"])
    assert config["api.port"] == 7003
    assert config["store.name"] == "lmdb"
    assert config["api.address"] == "0.0.0.0"
    assert config.sources["api.port"] == "flag --set api.port"
    assert config.sources["store.name"] == "environment variable NAVARCH_STORE_NAME"
    assert config.sources["api.address"] == f"config file {path}"


def test_config_file_from_environment(tmp_path):
    path = write(tmp_path, "log:\n  format: json\n")
    assert load_config(env={"NAVARCH_CONFIG": str(path)})["log.format"] == "json"


def test_dedicated_flags_override_everything(tmp_path):
    path = write(tmp_path, "log:\n  format: json\n")
    config = load_config(path, {"NAVARCH_LOG_FORMAT": "json"}, flags={"log.format": "text"})
    assert config["log.format"] == "text"
    assert config.sources["log.format"] == "flag --log-format"


def test_typed_values_from_text():
    env = {
        "NAVARCH_PLUGINS_TRACE": "yes",
        "NAVARCH_DISABLE_PLUGINS": "a, b",
        "NAVARCH_STORE_OPTIONS": "{endpoints: [127.0.0.1:2379], timeout: 5}",
        "NAVARCH_LOG_LEVEL": "debug",
    }
    config = load_config(file=None, env=env)
    assert config["plugins.disabled"] == ["a", "b"]
    assert config["store.options"] == {"endpoints": ["127.0.0.1:2379"], "timeout": 5}
    assert config["log.level"] == "DEBUG"
    assert config["plugins.trace"] is False  # NAVARCH_TRACE_HOOKS is its variable, not this
    assert load_config(file=None, env={"NAVARCH_TRACE_HOOKS": "1"})["plugins.trace"] is True


BAD = [
    (
        {"file": "api:\n  port: 70000\n"},
        "api.port = 70000 (from config file",
        "an integer from 1 to 65535",
    ),
    ({"file": "api:\n  port: '80'\n"}, "api.port = '80'", "an integer from 1 to 65535"),
    ({"file": "log:\n  format: xml\n"}, "log.format = 'xml'", "one of text, json"),
    ({"file": "stor:\n  name: x\n"}, "unknown setting 'stor'", "known settings: data_dir"),
    ({"file": "api:\n  prot: 1\n"}, "unknown setting 'api.prot'", "known settings"),
    ({"file": "- a\n- b\n"}, "top level must be a mapping", ""),
    ({"file": "api: [\n"}, "not valid YAML", ""),
    (
        {"env": {"NAVARCH_API_PORT": "http"}},
        "from environment variable NAVARCH_API_PORT",
        "an integer",
    ),
    (
        {"env": {"NAVARCH_TRACE_HOOKS": "maybe"}},
        "plugins.trace = 'maybe' (from environment variable NAVARCH_TRACE_HOOKS)",
        "true or false",
    ),
    ({"env": {"NAVARCH_STORE_OPTIONS": "[1, 2]"}}, "store.options", "a mapping"),
    ({"env": {"NAVARCH_STORE_NAME": " "}}, "store.name = ' '", "a non-empty string"),
    ({"overrides": ["api.port"]}, "expected key=value", ""),
    ({"overrides": ["nope=1"]}, "flag --set nope: unknown setting 'nope'", ""),
    ({"overrides": ["controllers.enabled=[1"]}, None, None),  # a list from text: fine
]


@pytest.mark.parametrize(("source", "message", "allowed"), BAD)
def test_errors_name_key_value_source_and_rule(tmp_path, source, message, allowed):
    path = write(tmp_path, source["file"]) if "file" in source else None
    call = lambda: load_config(path, source.get("env", {}), source.get("overrides", ()))  # noqa: E731
    if message is None:
        call()
        return
    with pytest.raises(ConfigError) as info:
        call()
    assert message in str(info.value)
    assert allowed in str(info.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path / "absent.yaml", {})


def test_unknown_environment_variables_are_found():
    assert unknown_env({"NAVARCH_API_PROT": "1", "NAVARCH_API_PORT": "1", "HOME": "/"}) == [
        "NAVARCH_API_PROT"
    ]


def test_every_setting_has_help_and_a_valid_default():
    for setting in SETTINGS:
        assert setting.help
    load_config(file=None, env={})  # defaults pass their own checks


def test_config_show_cli_prints_values_and_sources(tmp_path):
    path = write(tmp_path, "api:\n  port: 7001\n")
    result = run_cli(
        "--config", str(path), "--set", "store.name=etcd", "config", "show", "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["values"]["api"]["port"] == 7001
    assert body["values"]["store"]["name"] == "etcd"
    assert body["sources"]["store.name"] == "flag --set store.name"
    text = run_cli("--config", str(path), "config", "show")
    assert "api.port: 7001" in text.stdout and f"config file {path}" in text.stdout


def test_cli_config_error_is_one_clear_line(tmp_path):
    result = run_cli("config", "show", env={"NAVARCH_API_PORT": "x"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "navarch: error: api.port = 'x' (from environment variable NAVARCH_API_PORT) is not "
        "allowed: must be an integer from 1 to 65535"
    )


def test_every_setting_is_documented():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.key}` | `{setting.env_name}` |" in text, setting.key


def test_reference_command_prints_the_documented_table():
    from pathlib import Path

    result = run_cli("config", "reference")
    assert result.returncode == 0
    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    # The core's table, then a heading and a table per installed plugin's options.
    blocks = result.stdout.strip().split("\n\n")
    assert len(blocks) >= 3
    for block in blocks:
        assert block in doc
