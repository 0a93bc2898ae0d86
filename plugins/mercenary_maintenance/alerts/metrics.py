"""The plan's alert metrics: PromQL defaults, parsing of Prometheus answers, per-host measures through
the host's transport when no Prometheus is configured.

Each metric becomes findings through ``findings.measured`` (the one threshold evaluator).
A value Prometheus cannot give (no series, NaN) is measured as ``None``, i.e. ``unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.disk import parse_df
from mercenary_maintenance.findings import Finding, Threshold, measured
from mercenary_maintenance.redact import first_line

_FS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"'


@dataclass(frozen=True)
class MetricRule:
    check: str
    threshold: str  # attribute of config.Thresholds
    query: str
    unit: str
    what: str


RULES: tuple[MetricRule, ...] = (
    MetricRule("host.cpu", "cpu_percent",
               '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))', "%", "CPU usage"),
    MetricRule("host.memory", "memory_percent",
               "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", "%", "memory usage"),
    MetricRule("host.disk_usage", "disk_percent",
               f"100 * (1 - node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}})", "%",
               "disk usage"),
    MetricRule("app.error_rate", "error_rate_percent",
               '100 * sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))', "%",
               "HTTP 5xx error rate"),
    MetricRule("app.latency_p95", "latency_p95_seconds",
               "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", "s",
               "p95 response time"),
)
RULE_NAMES = frozenset(r.check for r in RULES)  # = config.ALERT_METRICS, what alerts.queries may name


def queries(overrides: Mapping[str, str]) -> dict[str, str]:
    """PromQL per check: the defaults with the configured overrides."""
    return {r.check: overrides.get(r.check, r.query) for r in RULES}


def series_target(labels: Mapping[str, str]) -> str:
    """A readable target from a series' labels.

    >>> series_target({"__name__": "x", "job": "node", "instance": "db1:9100", "mountpoint": "/"})
    'db1:9100 mountpoint=/'
    >>> series_target({})
    'all'
    """
    rest = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance")}
    parts = [labels["instance"]] if "instance" in labels else []
    parts += [",".join(f"{k}={v}" for k, v in sorted(rest.items()))] if rest else []
    return " ".join(parts) or "all"


def _value(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) or math.isinf(value) else round(value, 4)


def findings_from_answer(rule: MetricRule, threshold: Threshold, answer: Mapping[str, Any]) -> list[Finding]:
    """Findings from a ``/api/v1/query`` answer (vector or scalar)."""
    if answer.get("status") != "success":
        raise ValueError(f"Prometheus answered {answer.get('status')!r}: {answer.get('error', '')}")
    data = answer.get("data") or {}
    series: list[dict[str, Any]]
    if data.get("resultType") == "scalar":
        series = [{"metric": {}, "value": data.get("result")}]
    elif data.get("resultType") == "vector":
        series = list(data.get("result") or [])
    else:
        raise ValueError(f"unsupported Prometheus result type {data.get('resultType')!r}")
    if not series:
        return [measured(rule.check, "all", None, threshold, f"{rule.what}: the query returned no series")]
    out = []
    for item in series:
        raw = (item.get("value") or [None, None])[1]
        value = _value(raw)
        target = series_target(item.get("metric") or {})
        text = (f"{rule.what} {value}{rule.unit} on {target}" if value is not None
                else f"{rule.what} on {target}: no usable value ({raw})")
        labels = item.get("metric") or {}
        details = {"source": "prometheus", **{k: labels[k] for k in ("instance", "mountpoint") if k in labels}}
        out.append(measured(rule.check, target, value, threshold, text, details))
    return out


def cpu_busy_percent(before: str, after: str) -> float:
    """CPU usage between two samples of ``/proc/stat`` (all CPUs): 100 × (1 − idle+iowait share).

    >>> cpu_busy_percent("cpu  100 0 100 700 100 0 0 0 0 0\\n", "cpu  150 0 150 750 150 0 0 0 0 0\\n")
    50.0
    """
    def totals(text: str) -> tuple[int, int]:
        line = next(line for line in text.splitlines() if line.startswith("cpu "))
        values = [int(v) for v in line.split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values[:8]), idle  # guest time is already counted in user time

    total0, idle0 = totals(before)
    total1, idle1 = totals(after)
    spent = total1 - total0
    return round(100.0 * (1 - (idle1 - idle0) / spent), 2) if spent > 0 else 0.0


def memory_used_percent(meminfo: str) -> float:
    """100 × (1 − MemAvailable / MemTotal), as node_exporter's default rule.

    >>> memory_used_percent("MemTotal:       1000 kB\\nMemFree: 100 kB\\nMemAvailable:    250 kB\\n")
    75.0
    """
    fields = {line.split(":")[0]: int(line.split()[1]) for line in meminfo.splitlines() if ":" in line}
    return round(100.0 * (1 - fields["MemAvailable"] / fields["MemTotal"]), 2)


def transport_findings(thresholds: Mapping[str, Threshold], transport: Any, paths: list[str],
                       sample_s: float = 0.5, sleep: Callable[[float], None] | None = None) -> list[Finding]:
    """CPU, memory and disk of one host through its transport (``/proc/stat`` twice, ``/proc/meminfo``,
    ``df``): no Prometheus configured. A host that cannot be reached is unknown with the reason."""
    import time

    host = transport.host.name
    details = {"source": f"transport:{transport.host.transport}", "host": host}
    try:
        before = transport.run("proc_stat").stdout
        (sleep or time.sleep)(sample_s)
        cpu = cpu_busy_percent(before, transport.run("proc_stat").stdout)
        mem = memory_used_percent(transport.run("meminfo").stdout)
    except Exception as exc:
        reason = f"host {host} not measured: {first_line(exc)}"
        return [measured(c, host, None, thresholds[t], reason, {**details, "error": reason})
                for c, t in (("host.cpu", "cpu_percent"), ("host.memory", "memory_percent"),
                             ("host.disk_usage", "disk_percent"))]
    out = [
        measured("host.cpu", host, cpu, thresholds["cpu_percent"], f"CPU usage {cpu}% on {host}", details),
        measured("host.memory", host, mem, thresholds["memory_percent"], f"memory usage {mem}% on {host}", details),
    ]
    for path in paths:
        try:
            _, used, avail = parse_df(transport.run("df_blocks", path).stdout)
            pct: float | None = round(100.0 * used / (used + avail), 2) if used + avail else None
            text = f"disk usage {pct}% on {host}:{path}"
        except Exception as exc:
            pct, text = None, f"disk usage on {host}:{path} unknown: {first_line(exc)}"
        out.append(measured("host.disk_usage", f"{host}:{path}", pct, thresholds["disk_percent"], text,
                            {**details, "path": path}))
    return out


def by_host(found: list[Finding], hosts: Mapping[str, str | None],
            thresholds: Mapping[str, Threshold]) -> list[Finding]:
    """Prometheus host findings named by their host (``instance`` = ``prometheus_instance``); a host whose
    instance is not set, or has no series, is unknown and says why. ``hosts``: host name → instance."""
    owner = {instance: name for name, instance in hosts.items() if instance}
    seen: set[str] = set()
    for finding in found:
        instance = finding.details.get("instance")
        if finding.check.startswith("host.") and instance in owner:
            name = owner[instance]
            seen.add(instance)
            mount = finding.details.get("mountpoint")
            finding.target = f"{name}:{mount}" if finding.check == "host.disk_usage" and mount else name
            finding.details["host"] = name
    out = list(found)
    for name, instance in hosts.items():
        if instance is None:
            why = (f"host {name} not measured: targets.hosts[{name}].prometheus_instance is not set "
                   "(node_exporter's instance label)")
        elif instance not in seen:
            why = f"host {name} not measured: Prometheus has no node_exporter series for instance {instance!r}"
        else:
            continue
        out += [measured(r.check, name, None, thresholds[r.threshold], why, {"source": "prometheus", "host": name})
                for r in RULES if r.check.startswith("host.")]
    return out


def no_prometheus(thresholds: Mapping[str, Threshold]) -> list[Finding]:
    """Application metrics need Prometheus: without it they are unknown, with the reason."""
    reason = "no Prometheus configured (alerts.prometheus_conn_id); application metrics need it"
    return [measured(r.check, "all", None, thresholds[r.threshold], f"{r.what} unknown: {reason}")
            for r in RULES if r.check.startswith("app.")]


def prometheus_findings(
    thresholds: Mapping[str, Threshold], promql: Mapping[str, str], query: Callable[[str], Mapping[str, Any]]
) -> list[Finding]:
    """Every rule through ``query``; a rule whose query fails is unknown with the reason.

    When Prometheus is unreachable, the remaining rules are not tried (same reason).
    """
    out: list[Finding] = []
    down: str | None = None
    for rule in RULES:
        threshold = thresholds[rule.threshold]
        if down is None:
            try:
                out.extend(findings_from_answer(rule, threshold, query(promql[rule.check])))
                continue
            except Exception as exc:
                reason = first_line(exc)
                if _unreachable(exc):
                    down = reason
        else:
            reason = down
        text = f"{rule.what} unknown: Prometheus query failed: {reason}"
        finding = measured(rule.check, "all", None, threshold, text)
        finding.details["error"] = reason
        out.append(finding)
    return out


def _unreachable(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ConnectionError", "ConnectTimeout", "ConnectionRefusedError", "Timeout", "URLError"})
