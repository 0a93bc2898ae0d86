"""OSV advisories read from an S3 prefix (moto over HTTP), state beside reports on S3."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mercenary_dev import servers

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.security.bodies import vulnerabilities_body
from mercenary_maintenance.security.scan import STATE_NAME
from mercenary_maintenance.steps import Step

DATA = Path(__file__).resolve().parents[1] / "data"


def test_advisories_and_first_seen_state_on_s3(s3: servers.S3Server, connections, tmp_path):
    client = s3.client()
    client.create_bucket(Bucket="osv-mirror")
    client.create_bucket(Bucket="reports-vulns")
    for record in sorted((DATA / "osv").glob("*.json")):
        client.put_object(Bucket="osv-mirror", Key=f"exports/{record.name}", Body=record.read_bytes())
    client.put_object(Bucket="osv-mirror", Key="exports/README.md", Body=b"not a record")
    connections(s3.connection_env("maintenance_s3"))
    cfg = parse_config({"reports": {"url": "s3://reports-vulns/r"}, "security": {
        "advisories": "s3://osv-mirror/exports/",
        "dependency_manifests": [{"name": "web", "path": str(DATA / "manifests" / "package-lock.json"),
                                  "kind": "node"}]}})
    step = Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="manual__s3"))
    vulnerabilities_body(step, now=datetime(2026, 11, 10, tzinfo=UTC))
    vulns = next(f for f in step.findings if f.check == "security.vulnerabilities")
    assert vulns.severity.label == "critical"
    assert vulns.details["advisory_source"] == "s3://osv-mirror/exports/"
    assert {v["id"] for v in vulns.details["vulnerabilities"]} == {
        "GHSA-jf85-cpcp-j695", "GHSA-35jh-r3h4-6jhm", "GHSA-xvch-5gv4-984h"}
    saved = client.list_objects_v2(Bucket="reports-vulns", Prefix=f"r/state/{STATE_NAME}/")["Contents"]
    assert len(saved) == 1
    # The next week's run reads the first sightings back from S3: the criticals are now overdue.
    again = Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="manual__s3b"))
    vulnerabilities_body(again, now=datetime(2026, 11, 17, tzinfo=UTC))
    sla = next(f for f in again.findings if f.check == "security.patch_sla")
    assert sla.severity.label == "critical"
    ages = {i["id"]: i["age_hours"] for i in sla.details["items"]}
    assert ages["GHSA-jf85-cpcp-j695"] == 168.0
