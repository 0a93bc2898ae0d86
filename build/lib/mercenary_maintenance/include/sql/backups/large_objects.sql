-- Large objects (lo_*) live outside the tables: the restore oracle counts them separately.
SELECT count(*) FROM pg_largeobject_metadata
