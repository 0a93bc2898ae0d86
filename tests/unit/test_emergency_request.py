"""The emergency request: run-time validation names the field; routing covers every action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.emergency import dispatch, notice
from mercenary_maintenance.emergency.request import InvalidRequest
from mercenary_maintenance.emergency.tasks import CATALOG, validate
from mercenary_maintenance.emergency.tasks import form_params as params
from mercenary_maintenance.wiring import registry

CFG = parse_config({"targets": {"postgres": [{"name": "main"}], "redis": [{"name": "cache"}]}})


def _params(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"action": "vacuum_analyze", "target": "main", "objects": ["public.orders"],
                            "severity": "critical", "reason": "bloat after a bulk delete", "ticket": "OPS-7",
                            "dry_run": False, "check_set": None}
    base.update(overrides)
    return base


def test_a_valid_request_is_normalised() -> None:
    req = validate(_params(reason="  bloat  "), CFG)
    assert (req.kind, req.objects, req.reason, req.critical) == ("postgres", ["public.orders"], "bloat", True)
    assert req.describe() == "vacuum_analyze on postgres:main (public.orders)"


@pytest.mark.parametrize(("field", "overrides"), [
    ("reason", {"reason": "   "}),
    ("reason", {"reason": None}),
    ("ticket", {"ticket": "see slack"}),
    ("objects", {"objects": ["orders; DROP TABLE orders"]}),
    ("objects", {"objects": ['"Quoted"']}),
    ("objects", {"objects": ["a.b.c"]}),
    ("objects", {"action": "redis_memory_purge", "target": "cache", "objects": ["x"]}),
    ("target", {"target": "replica"}),
    ("target", {"action": "redis_bgrewriteaof", "target": "main", "objects": []}),
    ("action", {"action": "drop_database"}),
    ("check_set", {"action": "check_set", "check_set": "everything", "objects": []}),
    ("check_set", {"check_set": "postgres_daily"}),
    ("severity", {"severity": "urgent"}),
    ("dry_run", {"dry_run": "no"}),
    ("ignore_load_guard", {"severity": "non_critical", "ignore_load_guard": True}),
    ("ignore_load_guard", {"ignore_load_guard": "yes"}),
])
def test_invalid_requests_are_refused_naming_the_field(field: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as err:
        validate(_params(**overrides), CFG)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_the_ticket_pattern_comes_from_the_config() -> None:
    cfg = parse_config({"emergency": {"ticket_pattern": r"^INC[0-9]{6}$"}})
    assert validate(_params(ticket="INC000123"), cfg).ticket == "INC000123"
    with pytest.raises(InvalidRequest, match="ticket"):
        validate(_params(ticket="OPS-7"), cfg)


def test_check_sets_take_their_target_kind_from_the_set() -> None:
    req = validate(_params(action="check_set", check_set="redis_daily", target="cache", objects=[]), CFG)
    assert req.kind == "redis"
    assert dispatch.route_for(req, registry.ACTIONS, registry.CHECK_SETS) is registry.CHECK_SETS["redis_daily"]


def test_dry_run_is_the_default() -> None:
    given = _params()
    del given["dry_run"]
    assert validate(given, CFG).dry_run is True
    assert params()["dry_run"].value is True


def test_the_form_offers_exactly_the_registry_and_each_route_takes_its_arguments() -> None:
    import inspect

    form = params()
    assert form["action"].schema["enum"] == sorted([*registry.ACTIONS, "check_set"])
    assert form["check_set"].schema["enum"] == [None, *sorted(registry.CHECK_SETS)]
    assert CATALOG.actions == {n: (r.kind, r.takes_objects) for n, r in registry.ACTIONS.items()}
    for name, route in {**registry.ACTIONS, **registry.CHECK_SETS}.items():
        accepted = set(inspect.signature(route.run).parameters)
        assert {"step", "target"} <= accepted, name
        assert ("objects" in accepted) >= route.takes_objects, name
        assert ("dry_run" in accepted) == route.changes, name


def test_the_form_schema_rejects_what_the_ui_must_not_submit() -> None:
    from airflow.sdk.definitions.param import ParamsDict

    def form(conf: dict[str, Any]) -> ParamsDict:
        merged = ParamsDict(params())
        merged.update(conf)
        return merged

    ok = {"action": "reindex", "target": "main", "reason": "r", "ticket": "OPS-1", "objects": ["public.i_x"]}
    form(ok).validate()
    for bad in ({"reason": ""}, {"objects": ["x;y"]}, {"severity": "whenever"}, {"action": "rm"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            form({**ok, **bad}).validate()


def test_notice_period_applies_to_non_critical_real_runs_only() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    req = validate(_params(severity="non_critical"), CFG)
    assert notice.act_after(req, now, 60) == now + timedelta(hours=1)
    assert notice.act_after(validate(_params(), CFG), now, 60) == now
    assert notice.act_after(validate(_params(severity="non_critical", dry_run=True), CFG), now, 60) == now
    text = notice.notice_text(req, user="alice", when=now + timedelta(hours=1), link="http://x/run")
    assert "2026-05-01 13:00 UTC" in text
    assert "alice" in text
    assert "wait_notice_period" in text


def test_a_critical_request_may_override_the_load_guard_and_the_step_records_why(monkeypatch) -> None:
    from mercenary_maintenance.runinfo import RunInfo
    from mercenary_maintenance.steps import Step

    seen: list[str | None] = []
    record = registry.Route(lambda step, target, **kw: seen.append(step.load_guard_override), "postgres",
                            takes_objects=True)
    routes = {**registry.ACTIONS, "vacuum_analyze": record}
    assert validate(_params(), CFG).ignore_load_guard is False
    assert params()["ignore_load_guard"].value is False
    dispatch.execute(Step(CFG, RunInfo("emergency_maintenance", "r")), validate(_params(), CFG), routes, {})
    req = validate(_params(ignore_load_guard=True), CFG)
    dispatch.execute(Step(CFG, RunInfo("emergency_maintenance", "r")), req, routes, {})
    assert seen == [None, "emergency critical request OPS-7 (bloat after a bulk delete)"]
