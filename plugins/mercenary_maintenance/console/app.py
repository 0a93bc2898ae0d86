"""The console's FastAPI app (mounted by the plugin at :data:`URL_PREFIX` on the api-server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mercenary_maintenance.config import ConfigError, MaintenanceConfig, config_path, load_config
from mercenary_maintenance.console.auth import DagScope, dag_scope, require_user
from mercenary_maintenance.console.index import RunIndex
from mercenary_maintenance.windows.rules import UTC

URL_PREFIX = "/maintenance"
TEMPLATES = Path(__file__).with_name("templates")
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Scope = Annotated[DagScope, Depends(dag_scope)]


class Console:
    """Config, report store and run index, reloaded when the config file changes."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._key: tuple[str, float] | None = None
        self._cfg: MaintenanceConfig | None = None
        self._index: RunIndex | None = None

    def load(self) -> tuple[MaintenanceConfig, RunIndex]:
        path = config_path()  # None: the shipped default, which does not change
        try:
            key = (str(path), path.stat().st_mtime if path else 0.0)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read maintenance config ({exc.strerror})") from None
        with self._lock:
            if key != self._key or self._cfg is None or self._index is None:
                from mercenary_maintenance.report.store import store_for

                cfg = load_config(path)
                cache = Path(cfg.console.cache_dir) if cfg.console.cache_dir else None
                self._index = RunIndex(store_for(cfg), cfg.reports.url, cache, cfg.console.refresh_seconds)
                self._cfg, self._key = cfg, key
            return self._cfg, self._index

    def fresh(self, scope: DagScope | None = None) -> tuple[MaintenanceConfig, RunIndex]:
        """Config and the refreshed index — limited to the DAGs ``scope`` may read."""
        cfg, index = self.load()
        index.refresh()
        if scope is not None:
            index = index.scoped(scope.readable(index.dag_ids()))
        return cfg, index


def _templates() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["age"] = human_age
    env.filters["when"] = lambda v: (v or "—")[:16].replace("T", " ")
    env.filters["q"] = lambda v: quote(str(v), safe="")
    return env


def human_age(seconds: float | None) -> str:
    """>>> human_age(90061)
    '1 d 1 h'
    >>> human_age(None)
    '—'
    """
    if seconds is None:
        return "—"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400} d {s % 86400 // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 60} min"


def scoped_status(status: dict[str, Any], scope: DagScope) -> dict[str, Any]:
    """The coming windows of the DAGs the user may read (the runs and findings come from a scoped index)."""
    for key in ("next_windows", "_windows"):
        status[key] = [w for w in status[key] if scope.allows(w["dag_id"])]
    return status


def create_app(console: Console | None = None) -> FastAPI:
    state = console or Console()
    env = _templates()
    app = FastAPI(title="Mercenary maintenance console", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(require_user)])
    app.state.console = state

    def page(request: Request, template: str, status_code: int = 200, **data: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        airflow = base.removesuffix(URL_PREFIX)
        html = env.get_template(template).render(base=base, airflow=airflow, now=state.clock(), **data)
        return HTMLResponse(html, status_code=status_code)

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> Response:
        if request.url.path.endswith(("/api/status", "/metrics")):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return page(request, "error.html", status_code=503, title="Configuration error", message=str(exc))

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, scope: Scope) -> HTMLResponse:
        from mercenary_maintenance.console.plan import load_plan, mark_not_configured
        from mercenary_maintenance.console.status import build_status

        cfg, index = state.fresh(scope)
        off = sum(i.off for i in mark_not_configured(load_plan(cfg), cfg))
        status = scoped_status(build_status(index, cfg, state.clock()), scope)
        return page(request, "overview.html", title="Maintenance", status=status,
                    runs=index.run_count(), not_configured=off)

    @app.get("/api/status")
    def api_status(scope: Scope) -> dict[str, Any]:
        from mercenary_maintenance.console.status import build_status, public

        cfg, index = state.fresh(scope)
        return public(scoped_status(build_status(index, cfg, state.clock()), scope))

    @app.get("/trends", response_class=HTMLResponse)
    def trends(request: Request, scope: Scope, days: int | None = Query(None, ge=1, le=3660)) -> HTMLResponse:
        from mercenary_maintenance.console.charts import trend_charts

        cfg, index = state.fresh(scope)
        period = days or cfg.console.trend_days
        charts = trend_charts(index, state.clock() - timedelta(days=period))
        return page(request, "trends.html", title="Trends", charts=charts, days=period)

    @app.get("/plan", response_class=HTMLResponse)
    def plan(request: Request, scope: Scope) -> HTMLResponse:
        from mercenary_maintenance.console.plan import compliance, readable_items

        cfg, index = state.fresh(scope)
        items = readable_items(compliance(index, cfg, state.clock()), scope.allows)
        return page(request, "plan.html", title="Plan compliance", items=items,
                    overdue=sum(i.overdue for i in items), manual=sum(i.manual for i in items),
                    off=sum(i.off for i in items))

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
    def run_report(request: Request, scope: Scope, dag_id: str, run_id: str) -> HTMLResponse:
        from mercenary_maintenance.console.report_html import markdown_html, sorted_findings

        if not scope.allows(dag_id):  # before the read: a refused user does not learn whether the run exists
            raise HTTPException(status_code=403, detail=f"Not allowed to read the runs of DAG {dag_id}")
        _, index = state.load()
        report = index.store.read_report(dag_id, run_id)
        if report is None:
            return page(request, "error.html", status_code=404, title="No report",
                        message=f"No report for {dag_id} / {run_id} (yet): the run may still be running, "
                                "or it wrote its report elsewhere.")
        sections = [{"title": s.get("title", ""), "html": markdown_html(str(s.get("markdown", "")))}
                    for s in report.get("sections", [])]
        return page(request, "report.html", title=f"{dag_id} report", report=report,
                    findings=sorted_findings(report), sections=sections)

    @app.get("/metrics")
    def metrics(scope: Scope) -> Response:
        from mercenary_maintenance.console.metrics import exposition

        _, index = state.fresh(scope)
        hidden = len(set(index.dag_ids()) - (index.dags or frozenset()))
        return Response(exposition(index, state.clock(), hidden), media_type=METRICS_CONTENT_TYPE)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        accepts_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and accepts_html:
            base = request.scope.get("root_path", "").rstrip("/")
            login = f"{base.removesuffix(URL_PREFIX)}/auth/login/?next={quote(str(request.url), safe='')}"
            html = env.get_template("error.html").render(
                base=base, airflow=base.removesuffix(URL_PREFIX), now=state.clock(), title="Not logged in",
                message=str(exc.detail), login=login)
            return HTMLResponse(html, status_code=401, headers=exc.headers)
        if exc.status_code == 403 and accepts_html:
            return page(request, "error.html", status_code=403, title="Not allowed", message=str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app
