"""What a restore test proves beyond "pg_restore exited 0" (docs/areas/backups.md).

- :func:`amcheck`: PostgreSQL's own ``pg_amcheck`` (heap tables and B-tree indexes) on the
  restored copy; every relation it reports is named.
- :func:`apply_globals` / :func:`compare_globals`: the roles, attributes, role settings and
  memberships stored beside the dump (``pg_dumpall --globals-only --no-role-passwords``) are
  replayed into the scratch server before the restore (so owners and grants restore too), then the
  scratch server's own globals are dumped and compared line by line.
- :func:`space_problem`: enough free space where the restore writes, before it starts.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from mercenary_maintenance import runner
from mercenary_maintenance.adapters.postgres import connect_params
from mercenary_maintenance.backups import binaries
from mercenary_maintenance.config import TimeoutsConfig

_REPORTED = re.compile(r'^(heap table|btree index|relation) "([^"]+)"', re.M)


@dataclass
class AmcheckResult:
    relations: list[str] = field(default_factory=list)
    """Relations pg_amcheck reported (``db.schema.name``), in report order."""
    output: str = ""
    seconds: float = 0.0
    exit_code: int = 0

    @property
    def corrupt(self) -> bool:
        return bool(self.relations) or self.exit_code != 0


def reported_relations(output: str) -> list[str]:
    """
    >>> reported_relations('btree index "db.public.t_pkey":\\n    ERROR:  item order invariant violated\\n'
    ...                    'heap table "db.public.t", block 0, offset 3:\\n    xmin 9 precedes ...\\n'
    ...                    'btree index "db.public.t_pkey":\\n    ERROR: again\\n')
    ['db.public.t_pkey', 'db.public.t']
    """
    return list(dict.fromkeys(m[2] for m in _REPORTED.finditer(output)))


def amcheck(env: dict[str, str], dbname: str, major: int, bin_dir: str | None, timeout_s: float,
            install: bool = True) -> AmcheckResult:
    """``pg_amcheck`` (heap + B-tree; ``install``: installing the amcheck extension into the copy when
    missing, which needs a superuser)."""
    started = time.monotonic()
    argv = [binaries.program(major, "pg_amcheck", bin_dir), *(["--install-missing"] if install else []),
            "--no-password", "--heapallindexed", f"--database={dbname}"]
    proc = runner.run(argv, env=env, timeout=timeout_s, check=False)
    output = runner.mask((proc.stdout or "") + (proc.stderr or ""))
    return AmcheckResult(reported_relations(output), output[-4000:], round(time.monotonic() - started, 3),
                         proc.returncode)


def socket_env(socket_dir: str, port: int, any_user: str, dbname: str, timeouts: TimeoutsConfig) -> dict[str, str]:
    """libpq's environment for a scratch server reached over its private Unix socket (a restored copy of a
    whole cluster), as the copy's bootstrap superuser (found through ``any_user``'s session)."""

    with connect_params(timeouts=timeouts, host=socket_dir, port=port, user=any_user, dbname=dbname,
                        autocommit=True) as conn:
        row = conn.execute("SELECT rolname FROM pg_catalog.pg_roles WHERE oid = 10").fetchone()
    superuser = str(row[0]) if row else any_user
    return {"PGHOST": socket_dir, "PGPORT": str(port), "PGUSER": superuser, "PGDATABASE": dbname}


def amcheck_details(result: AmcheckResult) -> dict[str, object]:
    details: dict[str, object] = {"corrupt_relations": result.relations, "seconds": result.seconds,
                                  "exit_code": result.exit_code}
    if result.corrupt:
        details["output"] = result.output[-1500:]
    return details


def amcheck_problem(result: AmcheckResult) -> str | None:
    """
    >>> print(amcheck_problem(AmcheckResult(["db.public.t_pkey"], "...", 0.1, 2)))
    amcheck found corruption in db.public.t_pkey
    >>> amcheck_problem(AmcheckResult([], "", 0.1, 0)) is None
    True
    """
    if result.relations:
        more = f" and {len(result.relations) - 5} more" if len(result.relations) > 5 else ""
        return f"amcheck found corruption in {', '.join(result.relations[:5])}{more}"
    if result.exit_code != 0:
        tail = " ".join(result.output.strip().splitlines()[-2:])[:300]
        return f"pg_amcheck could not check the restored copy (exit {result.exit_code}): {tail}"
    return None


# ----------------------------------------------------------------------------- roles and grants

_KEPT = re.compile(r"^(CREATE ROLE|ALTER ROLE|GRANT) ")


def globals_lines(sql: str, exclude_roles: tuple[str, ...] = ()) -> set[str]:
    """The role statements of a globals dump, normalised for comparison: who granted a membership
    is left out (on the scratch server the restoring superuser replays it), so are per-database
    role settings (the scratch database has another name) and ``exclude_roles``.

    >>> sorted(globals_lines('--\\nSET x = 1;\\nCREATE ROLE app;\\nALTER ROLE app WITH LOGIN;\\n'
    ...                      'GRANT pg_read_all_data TO app WITH INHERIT TRUE GRANTED BY postgres;\\n'
    ...                      'CREATE ROLE mm_restore;\\nALTER ROLE app IN DATABASE db SET work_mem TO 1;',
    ...                      ("mm_restore",)))
    ['ALTER ROLE app WITH LOGIN', 'CREATE ROLE app', 'GRANT pg_read_all_data TO app WITH INHERIT TRUE']
    """
    lines = set()
    for raw in sql.splitlines():
        line = raw.strip().rstrip(";")
        if not _KEPT.match(line) or " IN DATABASE " in line:
            continue
        line = re.sub(r" GRANTED BY \S+$", "", line)
        words = {w.strip('"') for w in re.split(r"[\s,]+", line)}
        if any(role in words for role in exclude_roles):
            continue
        lines.add(line)
    return lines


def dump_globals(env: dict[str, str], major: int, bin_dir: str | None, timeout_s: float) -> str:
    pg_dumpall = binaries.program(major, "pg_dumpall", bin_dir)
    return runner.run([pg_dumpall, "--globals-only", "--no-role-passwords", "--no-password"], env=env,
                      timeout=timeout_s).stdout


def apply_globals(env: dict[str, str], sql: str, work_dir: Path, major: int, bin_dir: str | None,
                  timeout_s: float) -> list[str]:
    """Replay a globals dump with psql (errors do not stop it: a role that exists already, a
    tablespace whose directory is not here); returns the error lines."""
    script = work_dir / "globals.sql"
    script.write_text(sql, encoding="utf-8")
    script.chmod(0o644)  # read by psql only; no passwords in it (--no-role-passwords)
    try:
        proc = runner.run([binaries.program(major, "psql", bin_dir), "-X", "-q", "-v", "ON_ERROR_STOP=0",
                           "--no-password", "-f", str(script)], env=env, timeout=timeout_s)
    finally:
        script.unlink(missing_ok=True)
    return [line for line in (proc.stderr or "").splitlines() if "ERROR:" in line][:50]


def compare_globals(expected_sql: str, restored_sql: str, exclude_roles: tuple[str, ...]) -> dict[str, list[str]]:
    """``{"missing": [...], "unexpected": [...]}`` role statements (empty lists: the same).

    >>> compare_globals("CREATE ROLE a;\\nCREATE ROLE b;", "CREATE ROLE a;\\nCREATE ROLE c;", ())
    {'missing': ['CREATE ROLE b'], 'unexpected': ['CREATE ROLE c']}
    """
    want, got = globals_lines(expected_sql, exclude_roles), globals_lines(restored_sql, exclude_roles)
    return {"missing": sorted(want - got), "unexpected": sorted(got - want)}


# ----------------------------------------------------------------------------- free space


def free_bytes(path: Path) -> int:
    """Free bytes on ``path``'s filesystem for an unprivileged writer."""
    return int(shutil.disk_usage(path).free)


def space_problem(path: Path, need: int, free: int, what: str) -> str | None:
    """Why a restore that needs ``need`` bytes under ``path`` is refused (``None``: room enough).

    >>> print(space_problem(Path("/tmp"), 3 * 2**30, 2**30, "k"))
    k needs about 3221225472 bytes (3.0 GB) under /tmp, only 1073741824 bytes (1.0 GB) free there; not restored
    >>> space_problem(Path("/tmp"), 10, 20, "k") is None
    True
    """
    if need <= free:
        return None
    return (f"{what} needs about {need} bytes ({need / 2**30:.1f} GB) under {path}, only {free} bytes "
            f"({free / 2**30:.1f} GB) free there; not restored")
