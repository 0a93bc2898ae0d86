"""The dev harness of mercenary-maintenance (not part of the product): local servers on loopback
(``servers``), the real Airflow runtime for tests (``runtime``), the demo (``demo``) and the
shutdown helpers of the demo and the benchmarks (``shutdown``). Installed by ``make install``
beside the product, never into a deployment."""
