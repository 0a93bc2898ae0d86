"""The failure notifier under ``dag.test()`` / ``airflow dags test`` (what ``make demo`` and the
integration tier use): a failed run posts exactly one notice, retried tries post nothing.

Before the fix, BaseNotifier.render_template_fields asked the context's ``SerializedDAG`` for
``get_template_env`` and the callback crashed: a failed run posted nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mercenary_dev import servers

ROOT = Path(__file__).resolve().parents[2]


def _down_postgres() -> dict[str, str]:
    # nothing listens on this port: PostgreSQL is down
    return {"AIRFLOW_CONN_MAINTENANCE_POSTGRES": f"postgresql://postgres:x@127.0.0.1:{servers.free_port()}/postgres"}


def test_dag_test_failed_run_with_postgres_down_posts_one_failure_notice(
        redis_server, s3, slack, write_config, connections, run_dag):
    connections({**_down_postgres(), **redis_server.connection_env("maintenance_redis"),
                 **s3.connection_env("maintenance_s3"), **slack.connection_env("maintenance_slack")})
    write_config({"alerts": {"base_url": "http://airflow.test"}})
    state, report = run_dag("maintenance_daily")
    assert state == "failed"
    assert report is not None
    notices = [m["text"] for m in slack.messages if "failed —" in m.get("text", "")]
    assert len(notices) == 1, slack.messages
    assert "*maintenance_daily*" in notices[0]
    assert "postgres" in notices[0]
    assert "http://airflow.test/dags/maintenance_daily/runs/" in notices[0]


def test_airflow_dags_test_cli_posts_the_failure_notice(
        airflow_db, redis_server, s3, slack, write_config, connections, tmp_path):
    env = dict(os.environ, **_down_postgres(), **redis_server.connection_env("maintenance_redis"),
               **s3.connection_env("maintenance_s3"), **slack.connection_env("maintenance_slack"))
    env["MAINTENANCE_CONFIG"] = str(write_config({}))
    result = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", "maintenance_daily"], env=env,
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "get_template_env" not in output
    assert "Callback failed" not in output
    notices = [m["text"] for m in slack.messages if "failed —" in m.get("text", "")]
    assert len(notices) == 1, (slack.messages, output[-3000:])
    assert "*maintenance_daily*" in notices[0]
