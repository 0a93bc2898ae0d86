-- Scratch databases of earlier restore tests of one target (name prefix as a LIKE pattern).
SELECT datname FROM pg_database WHERE datname LIKE %(pattern)s ORDER BY 1
