-- Run inside a REPEATABLE READ transaction; pg_dump --snapshot uses the same snapshot.
SELECT pg_export_snapshot()
