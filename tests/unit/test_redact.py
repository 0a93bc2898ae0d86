"""Secret shapes, registered values, the child environment and Slack escaping (pure logic)."""

from __future__ import annotations

import json

import pytest

from mercenary_maintenance import redact, runner
from mercenary_maintenance.runner import child_env, mask

SECRET = "Zq9-distinct-Secret"


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql://app:{SECRET}@db:5432/x",
        f"postgresql://app:{SECRET}@with-at@db.internal/x",
        f"redis://:{SECRET}@127.0.0.1:6379/0",
        f"host=db user=app password={SECRET} dbname=x",
        f"host=db password='{SECRET} has spaces' dbname=x",
        f"host=db password = '{SECRET}\\'quoted' dbname=x",
        f"PGPASSWORD={SECRET} pg_dump -Fc db",
        f"export PGPASSWORD='{SECRET}'",
        f"Authorization: Bearer {SECRET}",
        f'{{"headers": {{"Authorization": "Bearer {SECRET}"}}}}',
        f"curl -H 'authorization: basic {SECRET}'",
        f"aws_secret_access_key={SECRET}",
        f'{{"aws_secret_access_key": "{SECRET}", "region": "eu"}}',
        f"AWS_SECRET_ACCESS_KEY: {SECRET}",
        f"https://hooks.slack.com/services/T0AB/B0CD/{SECRET.replace('-', '')}",
        f"http://127.0.0.1:9/services/T000/B000/{SECRET.replace('-', '')} refused",
        f"ALTER ROLE app PASSWORD '{SECRET}'",
        f"CREATE USER app WITH ENCRYPTED PASSWORD '{SECRET}' VALID UNTIL 'infinity'",
        f"create role app login password E'{SECRET}\\'x'",
        f"ALTER USER app PASSWORD $pw${SECRET}$pw$",
    ],
)
def test_mask_hides_every_known_secret_shape(text: str) -> None:
    out = mask(text)
    assert SECRET not in out
    assert SECRET.replace("-", "") not in out
    assert "***" in out


def test_mask_hides_aws_access_key_ids_and_slack_tokens() -> None:
    out = mask("ids AKIAIOSFODNN7EXAMPLE ASIAY34FZKBOKMUTVV7A xoxb-123456789-abcdefghij")
    assert "AKIAIOSFODNN7EXAMPLE" not in out
    assert "ASIAY34FZKBOKMUTVV7A" not in out
    assert "xoxb-" not in out


def test_mask_keeps_ordinary_text_and_json_shape() -> None:
    plain = "password authentication failed for user app; SELECT 1; https://example.com/services/status"
    assert mask(plain) == plain
    doc = json.loads(mask(json.dumps({"password": SECRET, "user": "app"})))
    assert doc == {"password": "***", "user": "app"}


def test_registered_values_are_hidden_also_url_encoded() -> None:
    value = "r3g/ist@red secret"
    assert mask(f"x {value} y") == f"x {value} y"
    redact.register(value, "abc")  # too short values are ignored: they would hide ordinary words
    assert mask(f"x {value} y") == "x *** y"
    assert mask("x r3g%2Fist%40red%20secret y") == "x *** y"
    assert mask("x r3g%2Fist%40red+secret y") == "x *** y"
    assert mask("abc") == "abc"


def test_registered_values_go_to_airflows_masker_too() -> None:
    from airflow.sdk.log import _secrets_masker  # type: ignore[attr-defined]

    redact.register("airflow-side-Secret-42")
    assert "airflow-side-Secret-42" not in str(_secrets_masker().redact("x airflow-side-Secret-42 y"))


def test_connection_secrets_take_password_and_sensitive_extras() -> None:
    from types import SimpleNamespace

    conn = SimpleNamespace(password="pw-value-1", extra_dejson={"aws_secret_access_key": "sk-value-2",
                                                                "region_name": "eu-west-1",
                                                                "webhook_token": "tok-value-3"})
    assert sorted(redact.connection_secrets(conn)) == ["pw-value-1", "sk-value-2", "tok-value-3"]


def test_statement_text_goes_through_the_same_redaction() -> None:
    from mercenary_maintenance.postgres.rules import redact as rules_redact

    assert SECRET not in str(redact.statement(f"ALTER ROLE x PASSWORD '{SECRET}'"))
    assert rules_redact(f"ALTER ROLE x PASSWORD '{SECRET}'") == redact.statement(f"ALTER ROLE x PASSWORD '{SECRET}'")


def test_child_env_is_allow_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AIRFLOW_CONN_MAINTENANCE_POSTGRES", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
                 "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "SOMETHING_ELSE"):
        monkeypatch.setenv(name, SECRET)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    env = child_env({"PGPASSWORD": "given-per-call", "PGHOST": "db"})
    assert SECRET not in json.dumps(env)
    assert env["PGPASSWORD"] == "given-per-call"
    assert env["PGHOST"] == "db"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["TZ"] == "UTC"
    assert "PATH" in env
    assert set(env) <= {"PATH", "LANG", "LANGUAGE", "TZ", "HOME", "TMPDIR", "LC_ALL", "PGPASSWORD", "PGHOST"}


def test_slack_escape_makes_mentions_and_links_inert() -> None:
    assert redact.slack_escape("<!channel> <!here> <@U1> <https://x|y> a&b") == (
        "&lt;!channel&gt; &lt;!here&gt; &lt;@U1&gt; &lt;https://x|y&gt; a&amp;b")


def test_runner_reexports_mask() -> None:
    assert runner.mask is redact.mask


def test_user_text_reaches_slack_escaped() -> None:
    from datetime import UTC, datetime

    from mercenary_maintenance.alerts.message import format_notification
    from mercenary_maintenance.alerts.state import Notification
    from mercenary_maintenance.config import parse_config
    from mercenary_maintenance.emergency import notice
    from mercenary_maintenance.emergency.tasks import validate
    from mercenary_maintenance.notify import findings_notice, format_run_failure

    cfg = parse_config({"targets": {"postgres": [{"name": "main"}]}})
    req = validate({"action": "vacuum_analyze", "target": "main", "objects": [], "severity": "critical",
                    "reason": "urgent <!channel> see <http://evil|here>", "ticket": "OPS-7", "dry_run": False,
                    "check_set": None}, cfg)
    texts = [
        notice.notice_text(req, user="<!here>", when=datetime.now(UTC), link="http://x/run"),
        format_run_failure("d", "manual__<!channel>", "ValueError: <!everyone>", ["t"], "http://l"),
        str(findings_notice({"dag_id": "d", "run_id": "r", "status": "critical", "findings": [
            {"check": "c", "target": "t", "severity": "critical", "message": "value <!channel>"}]}, "critical", "l")),
        format_notification(Notification("firing", "host.cpu", "web1", "critical", 93.5, 90, "<!channel> high",
                                         "P2", "1 h", "s", "l", ("U024BE7LH",)), "http://af/run"),
    ]
    for text in texts:
        assert "<!" not in text, text
        assert "<http://evil" not in text
    assert "&lt;!channel&gt;" in texts[0]
    assert "<@U024BE7LH>" in texts[3], "our own on-call mention still pings"
    assert "<http://x/run|open the run>" in texts[0], "our own link still works"


def test_values_airflows_masker_knows_are_hidden_in_our_texts_too() -> None:
    from airflow.sdk.log import mask_secret

    mask_secret("hook-fetched-Secret-77")  # what the SDK does when a hook reads a connection
    assert mask("error talking to db: hook-fetched-Secret-77") == "error talking to db: ***"
