"""The ``timeouts`` section: defaults are bounded, the seed file equals them, nonsense names its key,
and the adapters turn it into the options each client really honours."""

from __future__ import annotations

import pytest

from mercenary_maintenance.config import CONFIG_ENV, ConfigError, TimeoutsConfig, load_config, parse_config


def test_defaults_bound_every_backend_and_the_seed_file_equals_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    t = TimeoutsConfig()
    for section in (t.postgres, t.redis, t.s3, t.slack, t.http):
        assert 0 < section.connect_s <= 10
    assert load_config().timeouts == t  # the shipped include/maintenance.yaml


@pytest.mark.parametrize(("data", "key"), [
    ({"postgres": {"connect_s": 0}}, "timeouts.postgres.connect_s"),
    ({"redis": {"read_s": -1}}, "timeouts.redis.read_s"),
    ({"s3": {"max_attempts": 0}}, "timeouts.s3.max_attempts"),
    ({"subprocess": {"backup_s": 0}}, "timeouts.subprocess.backup_s"),
    ({"slack": {"read": 5}}, "timeouts.slack.read"),
])
def test_invalid_timeouts_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config({"timeouts": data})


def test_botocore_config_carries_timeouts_and_standard_retries() -> None:
    from mercenary_maintenance.adapters.s3 import botocore_config

    cfg = botocore_config(None, TimeoutsConfig.model_validate({"s3": {"connect_s": 2, "read_s": 7, "max_attempts": 4}}))
    assert (cfg.connect_timeout, cfg.read_timeout) == (2, 7)
    assert cfg.retries == {"mode": "standard", "max_attempts": 4}


def test_redis_bounds_replace_what_redis_py_puts_in_the_pool() -> None:
    import redis

    from mercenary_maintenance.adapters.redis import bound

    client = redis.Redis(host="127.0.0.1", port=1)  # never connected
    kwargs = client.connection_pool.connection_kwargs
    # redis-py always fills both keys, so a setdefault there changes nothing.
    assert "socket_timeout" in kwargs
    assert "socket_connect_timeout" in kwargs
    bound(client, TimeoutsConfig.model_validate({"redis": {"connect_s": 1.5, "read_s": 3}}))
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (1.5, 3)
