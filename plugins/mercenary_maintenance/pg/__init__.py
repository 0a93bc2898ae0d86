"""PostgreSQL sessions below the areas: the session wrapper (:mod:`.session`: timeouts, the
version-gated SQL of ``include/sql/postgres`` it runs, :mod:`.sql`) and the per-target
maintenance lock (:mod:`.lock`). The postgres, backups and security areas share them; the
connection itself comes from :mod:`mercenary_maintenance.adapters.postgres`.
"""
