"""Pure logic of the daily sample restore: which tables are sampled, the pg_restore list, the verdict."""

from __future__ import annotations

from mercenary_maintenance.backups.manifest import qualified
from mercenary_maintenance.backups.sample import SampleResult, choose_sample, filter_toc, split_qualified, verdict
from mercenary_maintenance.findings import Severity

COUNTS = {"public.orders": 5000, 'sales."Line Items"': 1234, "public.empty_one": 0, "public.tiny": 3,
          "public.small": 40, "public.also_tiny": 3}


def test_sample_is_the_k_smallest_non_empty_tables_ties_by_name() -> None:
    assert choose_sample(COUNTS, 3) == ["public.also_tiny", "public.tiny", "public.small"]
    assert choose_sample(COUNTS, 1) == ["public.also_tiny"]
    assert "public.empty_one" not in choose_sample(COUNTS, 10)
    assert choose_sample(COUNTS, 10)[-1] == "public.orders"  # all non-empty, smallest first
    assert choose_sample(COUNTS, 0) == []
    assert choose_sample({"public.empty_one": 0}, 3) == []


def test_split_qualified_inverts_qualified_for_odd_names() -> None:
    for schema, table in [("public", "orders"), ("sales", "Line Items"), ("we.ird", 'x"y'), ("Ab", "c.d")]:
        assert split_qualified(qualified(schema, table)) == (schema, table)


def test_filter_toc_keeps_schema_and_sampled_data_only() -> None:
    toc = "\n".join([
        ";",
        "; Archive created at 2026-03-01",
        "215; 1259 16390 TABLE public orders postgres",
        "216; 1259 16395 TABLE sales Line Items postgres",
        "217; 1259 16396 TABLE sales Line Items Old postgres",
        "3345; 0 16390 TABLE DATA public orders postgres",
        "3346; 0 16395 TABLE DATA sales Line Items postgres",
        "3347; 0 16396 TABLE DATA sales Line Items Old postgres",
        "3348; 0 0 SEQUENCE SET public orders_id_seq postgres",
        "3200; 2606 16400 CONSTRAINT public orders orders_pkey postgres",
        "3201; 2606 16401 FK CONSTRAINT sales Line Items li_fk postgres",
        "3400; 0 16500 MATERIALIZED VIEW DATA public mv postgres",
    ])
    kept = filter_toc(toc, {("sales", "Line Items")}).splitlines()
    assert "3346; 0 16395 TABLE DATA sales Line Items postgres" in kept
    assert not any("TABLE DATA public orders" in line for line in kept)
    assert "3347; 0 16396 TABLE DATA sales Line Items Old postgres" not in kept
    assert "215; 1259 16390 TABLE public orders postgres" in kept
    assert "217; 1259 16396 TABLE sales Line Items Old postgres" in kept
    assert "3200; 2606 16400 CONSTRAINT public orders orders_pkey postgres" in kept
    assert "3348; 0 0 SEQUENCE SET public orders_id_seq postgres" in kept
    assert not any("FK CONSTRAINT" in line or "MATERIALIZED VIEW DATA" in line for line in kept)


def test_verdict_ok_on_match_and_critical_naming_the_tables() -> None:
    good = SampleResult("s", {"public.tiny": 3, "public.small": 40}, restored={"public.tiny": 3, "public.small": 40})
    ok = verdict("main", "k", good, {})
    assert ok.severity is Severity.OK
    assert "public.tiny" in ok.message
    bad = SampleResult("s", {"public.tiny": 3, "public.small": 40}, restored={"public.tiny": 3, "public.small": 39})
    critical = verdict("main", "k", bad, {})
    assert critical.severity is Severity.CRITICAL
    assert "public.small" in critical.message
    assert "public.tiny" not in critical.message
    assert critical.details["count_diff"] == {"public.small": {"expected": 40, "restored": 39}}
    missing = SampleResult("s", {}, missing_tables=["public.orders"])
    assert verdict("main", "k", missing, {}).severity is Severity.CRITICAL
