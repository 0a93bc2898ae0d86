"""Window DeadlineAlerts in the real runtime (the scheduler finds the miss, the triggerer runs
the callback): an overrun is announced naming the run; a run that already failed is not."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from mercenary_maintenance.windows.rules import MONTHLY_WINDOW, WEEKLY_WINDOW
from mercenary_maintenance.wiring.dagkit import HEAVY_POOL
from tests.runtime.conftest import slack_texts_about, wait_for

LEAD = timedelta(seconds=40)  # the deadline falls this long after the trigger


def _logical_date_with_deadline_in(runtime, duration: timedelta) -> str:
    """A manual run whose window (logical date + window length) ends LEAD from now: the real
    DeadlineAlert (reference DAGRUN_LOGICAL_DATE, interval = window length) fires in seconds."""
    return (runtime.now() - duration + LEAD).isoformat()


def _grep_home(runtime, needle: str) -> bool:
    for path in runtime.home.rglob("*.log"):
        try:
            if needle in path.read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


def _only_run_active(api, dag_id: str, run_id: str) -> bool:
    """Fail every other queued/running run of ``dag_id``; true once ``run_id`` is running."""
    for run in api.runs(dag_id):
        if run["dag_run_id"] != run_id and run["state"] in ("running", "queued"):
            api.set_run_state(dag_id, run["dag_run_id"], "failed")
    return api.run(dag_id, run_id)["state"] == "running"


def test_overrun_alert_names_the_run_and_a_failed_run_gets_none(airflow_runtime, api, runtime_slack):
    # Heavy tasks cannot start (0 slots): the weekly run is still running when its window ends.
    api.set_pool_slots(HEAVY_POOL, 0)
    try:
        for dag_id in ("maintenance_weekly", "maintenance_monthly"):
            api.unpause(dag_id)
        soon = _logical_date_with_deadline_in
        weekly = api.trigger("maintenance_weekly", logical_date=soon(airflow_runtime, WEEKLY_WINDOW.duration))
        monthly = api.trigger("maintenance_monthly", logical_date=soon(airflow_runtime, MONTHLY_WINDOW.duration))
        # Inside a real window (CI on a first Sunday morning) unpausing also creates that window's
        # scheduled run, which holds max_active_runs=1: end it so the manual runs start.
        for dag_id, run in (("maintenance_weekly", weekly), ("maintenance_monthly", monthly)):
            wait_for(lambda d=dag_id, r=run: _only_run_active(api, d, r["dag_run_id"]), 90, f"{dag_id} run to start")
        # The monthly run fails well before its deadline (here: marked failed over the API).
        api.set_run_state("maintenance_monthly", monthly["dag_run_id"], "failed")

        weekly_id = weekly["dag_run_id"]
        [alert] = wait_for(lambda: slack_texts_about(runtime_slack, f"`{weekly_id}`"), 150,
                           "the overrun alert for the weekly run")
        assert "*maintenance_weekly* is still running at the end of its maintenance window" in alert
        assert f"http://airflow.test/dags/maintenance_weekly/runs/{quote(weekly_id, safe='')}|open the run>" in alert
        assert api.run("maintenance_weekly", weekly_id)["state"] == "running"

        # apache/airflow#60927: the failed run's deadline fires too; the callback sees the state and stays silent.
        monthly_id = monthly["dag_run_id"]
        wait_for(lambda: _grep_home(airflow_runtime, f"maintenance_monthly run {monthly_id} passed after the run "
                                                     "ended (failed)"), 90, "the monthly deadline callback")
        assert not slack_texts_about(runtime_slack, "*maintenance_monthly* is still running")
    finally:
        for dag_id in ("maintenance_weekly", "maintenance_monthly"):
            api.pause(dag_id)
        for run in api.runs("maintenance_weekly") + api.runs("maintenance_monthly"):
            if run["state"] in ("running", "queued"):
                api.set_run_state(run["dag_id"], run["dag_run_id"], "failed")
        api.set_pool_slots(HEAVY_POOL, 2)  # after the runs ended: their heavy tasks must not start now
