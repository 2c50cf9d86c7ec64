"""Settings: defaults, file and environment precedence, and actionable validation errors."""

from __future__ import annotations

import dataclasses
import os

import pytest

from server.settings import Settings, SettingsError, load_settings, mask_url


def test_defaults_load_from_config_toml():
    s = load_settings(env={})
    assert s.port == 3000 and s.mongo_url == "" and s.data_dir == "./data" and s.bcrypt_rounds == 12


def test_file_then_env_then_overrides(tmp_path):
    cfg = tmp_path / "relay.toml"
    cfg.write_text('port = 4000\nlog_level = "debug"\nsticky_ttl = 10\n')
    s = load_settings(str(cfg), env={"JIULIU_PORT": "5000", "JIULIU_DEMO": "true"})
    assert (s.port, s.log_level, s.sticky_ttl, s.demo) == (5000, "debug", 10, True)
    s = load_settings(str(cfg), env={"JIULIU_PORT": "5000"}, overrides={"port": 6000})
    assert s.port == 6000


def test_mongo_url_read_as_is_and_prefixed_wins():
    assert load_settings(env={"MONGO_URL": "mongodb://db:27017/"}).mongo_url == "mongodb://db:27017/"
    s = load_settings(env={"MONGO_URL": "mongodb://a/", "JIULIU_MONGO_URL": "mongodb://b/"})
    assert s.mongo_url == "mongodb://b/"


def test_config_file_from_env(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 4321\n")
    assert load_settings(env={"JIULIU_CONFIG": str(cfg)}).port == 4321


@pytest.mark.parametrize("env, fragment", [
    ({"JIULIU_PORT": "70000"}, "port: 70000 is not a TCP port"),
    ({"JIULIU_PORT": "abc"}, "port (environment): 'abc' is not a valid int"),
    ({"MONGO_URL": "postgres://x"}, "expected mongodb://"),
    ({"MONGO_URL": "mongodb://u:hunter2@"}, "expected mongodb://"),
    ({"JIULIU_LOG_LEVEL": "loud"}, "log_level"),
    ({"JIULIU_DEMO": "maybe"}, "demo (environment)"),
    ({"JIULIU_WORKERS": "0"}, "workers"),
    ({"JIULIU_UPSTREAM_IDLE_TIMEOUT": "-1"}, "upstream_idle_timeout"),
])
def test_invalid_values_name_the_setting(env, fragment):
    with pytest.raises(SettingsError) as info:
        load_settings(env=env)
    assert fragment in str(info.value)
    assert "hunter2" not in str(info.value)


def test_missing_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 3\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(str(bad), env={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 3\n")
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        load_settings(str(unknown), env={})
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.toml"
        locked.write_text("port = 1\n")
        locked.chmod(0)
        with pytest.raises(SettingsError, match="not readable"):
            load_settings(str(locked), env={})


def test_secrets_never_printed():
    s = Settings(jwt_secret="topsecret", metrics_token="tok", mongo_url="mongodb://u:pw@h:1/")
    assert "topsecret" not in repr(s) and "pw@" not in repr(s) and "tok" not in repr(s)
    summary = str(s.safe_summary())
    assert "topsecret" not in summary and ":pw@" not in summary and "***" in summary
    assert mask_url("mongodb://u:pw@h:1/x") == "mongodb://u:***@h:1/x"


def test_settings_are_frozen():
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]


def test_upstream_proxy_is_checked_and_never_printed_with_its_password() -> None:
    s = Settings(upstream_proxy="socks5h://relay:pa55word@127.0.0.1:1080")
    assert "pa55word" not in repr(s) and "pa55word" not in str(s.safe_summary())
    assert s.safe_summary()["upstream_proxy"] == "socks5h://relay:***@127.0.0.1:1080"
    for bad in ("ftp://127.0.0.1:21", "http://127.0.0.1", "socks5://127.0.0.1:99999"):
        with pytest.raises(SettingsError, match="upstream_proxy"):
            Settings(upstream_proxy=bad)
    with pytest.raises(SettingsError, match="upstream_ca_file"):
        Settings(upstream_ca_file="/nonexistent/ca.pem")
