"""Daily findings through the alert state: posted once, reminded at the repeat interval,
resolved when they clear — to a real Slack receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.alerts.findings import announce_findings
from mercenary_maintenance.alerts.store import MemoryStateStore
from mercenary_maintenance.config import parse_config

DAY0 = datetime(2026, 12, 1, 0, 35, tzinfo=UTC)


def report(day: int, *findings: tuple[str, str, str]) -> dict[str, Any]:
    worst = {"critical": 3, "warning": 1, "ok": 0}
    status = max((f[2] for f in findings), key=lambda s: worst[s], default="ok")
    return {"dag_id": "maintenance_daily", "run_id": f"scheduled__day{day}", "status": status,
            "findings": [{"check": c, "target": t, "severity": s, "value": None, "message": f"{c} is {s}"}
                         for c, t, s in findings]}


@pytest.fixture
def cfg(slack: servers.SlackReceiver, connections: Any) -> Any:
    connections(slack.connection_env("maintenance_slack"))
    return parse_config({"alerts": {"notify_findings": "warning", "findings_repeat_interval_hours": 72,
                                    "slack_retry_delay_seconds": 0.05}})


def test_a_persistent_daily_finding_posts_once_then_resolves(cfg, slack):
    store = MemoryStateStore()
    bad = ("backup.freshness", "main", "critical")
    fine = ("redis.memory", "cache", "ok")
    for day in range(3):  # three daily runs with the same problem
        announce_findings(cfg, report(day, bad, fine), f"http://af/day{day}", store=store,
                          now=DAY0 + timedelta(days=day))
    [first] = slack.texts()
    assert "1 new, 0 reminder(s), 0 resolved" in first
    assert "NEW critical `backup.freshness` main" in first
    assert "redis.memory" not in first
    announce_findings(cfg, report(3, ("backup.freshness", "main", "ok"), fine), "http://af/day3", store=store,
                      now=DAY0 + timedelta(days=3))
    assert len(slack.messages) == 2
    resolved = slack.messages[1]["text"]
    assert "0 new, 0 reminder(s), 1 resolved" in resolved
    assert "RESOLVED critical `backup.freshness` main" in resolved
    assert store.state.alerts == {}


def test_reminder_after_the_repeat_interval_and_no_escalation(cfg, slack):
    store = MemoryStateStore()
    bad = ("security.patch_sla", "api", "critical")
    for day in range(4):
        announce_findings(cfg, report(day, bad), "http://af", store=store, now=DAY0 + timedelta(days=day))
    texts = [m["text"] for m in slack.messages]
    assert len(texts) == 2, texts  # day 0 new; day 3 (72 h later) a reminder; never "escalated"
    assert "0 new, 1 reminder(s)" in texts[1]


def test_a_fixed_by_the_run_finding_is_not_posted(cfg, slack):
    store = MemoryStateStore()
    found = {"check": "postgres.dead_tuples", "target": "main", "severity": "critical", "value": 75.0,
             "message": "dead", "after_maintenance": {"severity": "ok"}, "resolved_by": {"action": "x"}}
    announce_findings(cfg, {"dag_id": "maintenance_daily", "run_id": "r", "status": "ok", "findings": [found]},
                      "http://af", store=store, now=DAY0)
    assert slack.messages == []


def test_slack_down_keeps_the_items_for_the_next_run(cfg, slack):
    store = MemoryStateStore()
    slack.fail_next = [500] * 3
    with pytest.raises(RuntimeError, match="not delivered"):
        announce_findings(cfg, report(0, ("backup.freshness", "main", "critical")), "http://af", store=store,
                          now=DAY0, sleep=lambda s: None)
    assert [n.check for n in store.state.outbox] == ["backup.freshness"]
    announce_findings(cfg, report(1, ("backup.freshness", "main", "critical")), "http://af", store=store,
                      now=DAY0 + timedelta(days=1))
    [text] = slack.texts()
    assert "NEW critical `backup.freshness`" in text
    assert store.state.outbox == ()


def test_by_default_a_warning_of_maintenance_daily_reaches_slack_in_the_runs_one_digest(slack, connections):
    connections(slack.connection_env("maintenance_slack"))
    cfg = parse_config({})  # alerts.notify_findings defaults to warning
    assert cfg.alerts.notify_findings == "warning"
    store = MemoryStateStore()
    announce_findings(cfg, report(0, ("tls.certificate_expiry", "api", "warning"), ("backup.freshness", "main",
                                  "warning"), ("http.security_headers", "api", "warning"), ("redis.memory", "cache",
                                                                                             "ok")),
                      "http://af/day0", store=store, now=DAY0)
    [digest] = slack.texts()  # one message for the run, not one per finding
    assert "3 new, 0 reminder(s), 0 resolved" in digest
    assert "NEW warning `tls.certificate_expiry` api (P3, respond within 4 h)" in digest
    assert "NEW warning `backup.freshness` main (P3, respond within 4 h)" in digest
    assert "NEW warning `http.security_headers` api (P4, respond within 24 h)" in digest
    assert "redis.memory" not in digest


def _weekly(status: str = "ok") -> dict[str, Any]:
    return {"dag_id": "maintenance_weekly", "run_id": "scheduled__w1", "status": status, "findings": []}


def test_the_weekly_run_lists_the_inert_plan_items_once_in_slack(slack, connections):
    from mercenary_maintenance.alerts.announce import announce_run

    connections(slack.connection_env("maintenance_slack"))
    announce_run(parse_config({"alerts": {"slack_retry_delay_seconds": 0.05}}), _weekly())
    [message] = slack.messages
    digest = message["text"]
    assert "*maintenance_weekly* run `scheduled__w1` finished *ok*" in digest
    assert ":large_yellow_circle: Not configured" in digest
    assert digest.count("• log error review: set `logs.error_scan`") == 1


def test_without_a_slack_connection_the_weekly_digest_is_logged_and_the_run_is_not_failed(caplog):
    from mercenary_maintenance.alerts.announce import announce_run

    cfg = parse_config({"alerts": {"slack_retry_delay_seconds": 0.01, "slack_attempts": 2}})
    with caplog.at_level("WARNING"):
        announce_run(cfg, _weekly())  # no maintenance_slack connection: must not raise
    assert any("weekly not-configured digest not delivered after 2 attempt(s)" in r.getMessage()
               for r in caplog.records)
