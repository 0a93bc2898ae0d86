"""Config: defaults equal the plan, errors name the key, nothing is silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from mercenary_maintenance.config import CONFIG_ENV, ConfigError, load_config, parse_config


def test_shipped_file_is_valid_and_equals_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    cfg = load_config()  # no $MAINTENANCE_CONFIG: the shipped include/maintenance.yaml
    th = cfg.thresholds
    assert (th.cpu_percent.warning, th.cpu_percent.critical) == (70, 90)
    assert (th.memory_percent.warning, th.memory_percent.critical) == (80, 95)
    assert (th.disk_percent.warning, th.disk_percent.critical) == (80, 90)
    assert (th.error_rate_percent.warning, th.error_rate_percent.critical) == (1, 5)
    assert (th.latency_p95_seconds.warning, th.latency_p95_seconds.critical) == (1, 2)
    assert cfg.backups.full.retention_days == 30
    assert cfg.backups.incremental.retention_days == 7
    assert cfg.postgres.long_transaction_seconds == 300
    assert cfg.postgres.lock_timeout_seconds == 5
    assert cfg.cleanup.dry_run is True
    assert cfg.backups.delete_expired is False
    assert [t.conn_id for t in cfg.targets.postgres] == ["maintenance_postgres"]


def test_empty_file_means_the_plan_defaults() -> None:
    assert parse_config(None) == parse_config({})
    assert parse_config({}).thresholds.cpu_percent.critical == 90


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"postgres": {"lock_timeout_secs": 1}}, "postgres.lock_timeout_secs"),
        ({"postgres": {"lock_timeout_seconds": -1}}, "postgres.lock_timeout_seconds"),
        ({"thresholds": {"cpu_percent": {"warning": 95, "critical": 90}}}, "thresholds.cpu_percent"),
        ({"reports": {"url": "ftp://x"}}, "reports.url"),
        ({"targets": {"postgres": [{"name": "Main DB"}]}}, "targets.postgres.0.name"),
        ({"targets": {"redis": [{"name": "a"}, {"name": "a"}]}}, "targets"),
        ({"backups": {"full": {"retention_days": 7, "glacier_after_days": 30}}}, "backups.full"),
        ({"cleanup": {"dry_run": "sometimes"}}, "cleanup.dry_run"),
    ],
)
def test_invalid_values_fail_naming_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}\b"):
        parse_config(data)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(bad)


def test_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("postgres: {long_transaction_seconds: 42}\n")
    monkeypatch.setenv("MAINTENANCE_CONFIG", str(path))
    assert load_config().postgres.long_transaction_seconds == 42


def test_target_lookup_names_the_missing_target() -> None:
    cfg = parse_config({})
    assert cfg.postgres_target("main").conn_id == "maintenance_postgres"
    with pytest.raises(ConfigError, match="no target named 'nope'"):
        cfg.postgres_target("nope")
