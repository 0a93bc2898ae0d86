"""``python -m mercenary_maintenance.doctor [--config FILE] [--json]``: see the package's docstring."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from mercenary_maintenance import redact
from mercenary_maintenance.config import ConfigError, config_path, load_config
from mercenary_maintenance.doctor import Context, Item, exit_code, fix, ok, run_probes
from mercenary_maintenance.windows.rules import UTC


def metadata_exists() -> bool:
    """Whether Airflow's metadata database is there to read: a SQLite file that does not exist is not
    opened (SQLite would create it — the doctor writes nothing)."""
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn", fallback="") or ""
    if url.startswith("sqlite:"):
        path = url.split("///", 1)[1] if "///" in url else ""
        return bool(path) and path != ":memory:" and Path(path.split("?", 1)[0]).is_file()
    return bool(url)


def render_text(items: list[Item], source: str) -> str:
    counts = {s: sum(1 for i in items if i.status == s) for s in ("ok", "fix", "off")}
    width = min(44, max((len(i.item) for i in items), default=10))
    twidth = min(24, max((len(i.target) for i in items), default=6))
    lines = [f"mercenary maintenance doctor — config {source}", ""]
    for i in items:
        lines.append(f"{i.status:<4} {i.item:<{width}} {i.target:<{twidth}} {i.message}")
        if i.fix:
            label = "fix:" if i.status == "fix" else "turn on:"
            lines.append(f"{'':<5}{'':<{width}} {label} {i.fix}")
    lines += ["", f"{counts['ok']} ok, {counts['fix']} to fix, {counts['off']} off (not configured)"
              + (" — exit 1" if counts["fix"] else "")]
    return "\n".join(redact.mask(line) for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mercenary_maintenance.doctor",
                                     description="Check the maintenance config, connections, privileges and plan "
                                                 "items without changing anything.")
    parser.add_argument("--config", help="config file (default: $MAINTENANCE_CONFIG, else the shipped one)")
    parser.add_argument("--json", action="store_true", help='print {"items": [...]} instead of text')
    args = parser.parse_args(argv)

    named = Path(args.config) if args.config else config_path()
    source = str(named) if named else "maintenance.yaml (shipped default)"
    try:
        cfg = load_config(named)
    except ConfigError as exc:
        items = [fix("config", source, redact.mask(str(exc)), "correct the key named in the message "
                     "(docs/configuration.md lists every key)")]
    else:
        has_metadata = metadata_exists()
        if has_metadata:
            # Connections kept in Airflow's metadata database are read as the CLI reads them (read-only).
            os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")
        # Imported here, after the process context is set: the import registers the built-in probes.
        from mercenary_maintenance.doctor import probes  # noqa: F401

        ctx = Context(cfg=cfg, now=datetime.now(UTC), airflow_metadata=has_metadata)
        # Library log lines (Airflow's, the providers') go to stderr: stdout is the answer (--json parses).
        with contextlib.redirect_stdout(sys.stderr):
            items = [ok("config", source, "valid"), *run_probes(ctx)]
    if args.json:
        print(redact.mask(json.dumps({"items": [i.to_dict() for i in items]}, indent=2)))
    else:
        print(render_text(items, source))
    return exit_code(items)


if __name__ == "__main__":
    sys.exit(main())
