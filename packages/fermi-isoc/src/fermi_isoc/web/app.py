"""The status page: deliveries and runs with state counts, drill-down, lineage, alarms, re-run."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

import fermi_isoc.models  # noqa: F401  (registers isoc's tables)
from fermi_core.db import get_engine
from fermi_core.engine.rerun import RerunError, request_rerun
from fermi_core.site import Site
from fermi_isoc import queries
from fermi_isoc._version import __version__
from fermi_isoc.alarms import Context, evaluate, load_alarms, worst
from fermi_isoc.alarms.acks import AckError, acknowledge
from fermi_isoc.alarms.prometheus import CONTENT_TYPE, render
from fermi_isoc.jobs import job_records
from fermi_isoc.queries.halfpipe import halfpipe_states
from fermi_isoc.queries.ingest import delivery_by_id
from fermi_isoc.queries.pipeline import STATES, rerun_requests, run_by_key, state_counts
from fermi_isoc.web.security import (
    CSRF_FIELD,
    TOKEN_ENV,
    csrf_problem,
    csrf_token_for,
    set_csrf_cookie,
    token_problem,
)
from fermi_sciencetools_shim.time import met_to_utc_iso

HERE = Path(__file__).parent


@dataclass
class Settings:
    """Page configuration: database, operator token (never defaulted), alarms, refresh period."""

    db_url: str | None = None
    #: data home the stored paths (attempt logs) are relative to (default ``$FERMI_HOME``)
    home: str | None = None
    operator_token: str | None = field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    alarms_path: str | None = None
    refresh_seconds: int = 10


def _utc_text(met: float | None) -> str:
    if met is None or (isinstance(met, float) and math.isnan(met)):
        return ""
    return str(met_to_utc_iso(met, 0)).replace("T", " ")


def _when(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application (one database engine per app)."""
    settings = settings or Settings()
    engine = get_engine(settings.db_url)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    specs = load_alarms(settings.alarms_path)
    app = FastAPI(title="Fermi LAT ISOC", version=__version__, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(utc=_utc_text, when=_when, duration=_duration)
    templates.env.globals.update(refresh=settings.refresh_seconds, version=__version__, states=STATES)

    def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        token = csrf_token_for(request)
        response = templates.TemplateResponse(
            request, name, {**context, "csrf_field": CSRF_FIELD, "csrf": token}, status_code=status_code
        )
        set_csrf_cookie(response, token)
        return response

    def session() -> Session:
        return make_session()

    def _runs(s: Session, state: str | None):
        if state and state not in STATES:
            raise HTTPException(400, f"unknown state {state!r}: one of {', '.join(STATES)}")
        return queries.runs(s, state=state or None)

    def _evaluate(s: Session):
        ctx = Context(s)
        results = evaluate(specs, ctx)
        s.commit()  # acknowledgements that lapsed
        return results, ctx

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, state: str | None = None) -> HTMLResponse:
        with session() as s:
            all_runs = queries.runs(s)
            run_list = _runs(s, state)
            return page(
                request, "index.html",
                deliveries=queries.deliveries(s), runs=run_list, counts=state_counts(all_runs),
                state=state or "", pipeline=queries.pipeline_available(s),
                alarms=[r for r in _evaluate(s)[0] if r.firing],
                halfpipe=halfpipe_states(s, [r.run_id for r in run_list]),
            )  # fmt: skip

    @app.get("/fragments/runs", response_class=HTMLResponse)
    def runs_fragment(request: Request, state: str | None = None) -> HTMLResponse:
        with session() as s:
            run_list = _runs(s, state)
            return page(request, "_runs.html", runs=run_list, state=state or "",
                        halfpipe=halfpipe_states(s, [r.run_id for r in run_list]))  # fmt: skip

    @app.get("/fragments/deliveries", response_class=HTMLResponse)
    def deliveries_fragment(request: Request) -> HTMLResponse:
        with session() as s:
            return page(request, "_deliveries.html", deliveries=queries.deliveries(s))

    @app.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
    def delivery(request: Request, delivery_id: str) -> HTMLResponse:
        with session() as s:
            d = delivery_by_id(s, delivery_id)
            if d is None:
                raise HTTPException(404, f"no delivery {delivery_id!r}")
            chunks = queries.chunks_of(s, d.pk)
            lat_runs = sorted({c.run_id for c in chunks if c.run_id is not None})
            run_list = queries.runs_of_delivery(s, d.delivery_id, lat_runs)
            products = {r.key: queries.products_of(s, r.run_id) for r in run_list}
            # LAT runs of the chunks the pipeline has not started (e.g. held back by the halfpipe)
            not_started = [rid for rid in lat_runs if rid not in {r.run_id for r in run_list}]
            return page(
                request, "delivery.html", d=d, gaps=queries.gaps_of(s, d.pk), quarantine=queries.quarantine_of(s, d.pk),
                chunks=chunks, runs=run_list, products=products, not_started=not_started,
                halfpipe=halfpipe_states(s, lat_runs),
            )  # fmt: skip

    @app.get("/runs/{key:path}/log/{step}/{attempt}", response_class=PlainTextResponse)
    def attempt_log(key: str, step: str, attempt: int) -> PlainTextResponse:
        with session() as s:
            match = [a for a in queries.attempts_of(s, key) if a.step == step and a.attempt == attempt]
        if not match:
            raise HTTPException(404, f"task run {key} has no attempt {attempt} of step {step}")
        path = Site.from_env(home=settings.home, db_url=settings.db_url).resolve(match[0].log_path)
        try:
            data = path.read_bytes()[-200_000:]
        except OSError as exc:
            raise HTTPException(404, f"log {path} cannot be read: {exc.strerror}") from exc
        return PlainTextResponse(data.decode("utf-8", errors="replace"))

    @app.get("/runs/{key:path}", response_class=HTMLResponse)
    def run_page(request: Request, key: str, message: str = "") -> HTMLResponse:
        with session() as s:
            run = run_by_key(s, key)
            if run is None:
                raise HTTPException(404, f"no task run {key!r}")
            return page(
                request, "run.html", run=run, attempts=queries.attempts_of(s, key), message=message,
                writable=settings.operator_token is not None, products=queries.products_of(s, run.run_id),
                requests=rerun_requests(s, key), hp=halfpipe_states(s, [run.run_id]).get(run.run_id),
            )  # fmt: skip

    @app.post("/rerun", response_class=HTMLResponse)
    def rerun(
        request: Request,
        run: str = Form(...),
        step: str = Form(""),
        operator: str = Form(""),
        reason: str = Form(""),
        token: str = Form(""),
        csrf_token: str = Form("", alias=CSRF_FIELD),
    ) -> HTMLResponse:
        problem = csrf_problem(request, csrf_token)
        if problem:
            return page(request, "message.html", status_code=400, title="Refused", message=problem)
        problem = token_problem(settings.operator_token, token)
        if problem:
            return page(request, "message.html", status_code=403, title="Refused", message=problem)
        with session() as s:
            try:
                req = request_rerun(s, run, step or None, who=operator, why=reason, origin="web")
                s.commit()
            except RerunError as exc:
                return page(
                    request, "message.html", status_code=exc.status, title="Refused", message=str(exc)
                )
        what = f"step {req.step}" if req.step else "the whole run"
        return page(
            request, "message.html", title="Re-run requested",
            message=f"Re-run of {what} of {run} requested by {req.requested_by} (request {req.id}): {req.reason}; "
                    f"state {req.state} until the next pipeline pass",
            run_key=run,
        )  # fmt: skip

    @app.get("/alarms", response_class=HTMLResponse)
    def alarms_page(request: Request) -> HTMLResponse:
        with session() as s:
            results, _ = _evaluate(s)
            jobs = job_records(s) if "isoc_job" in queries.table_names(s) else []
        return page(request, "alarms.html", results=results, worst=worst(results), jobs=jobs,
                    writable=settings.operator_token is not None)  # fmt: skip

    @app.post("/alarms/ack", response_class=HTMLResponse)
    def alarm_ack(
        request: Request,
        alarm: str = Form(...),
        key: str = Form(""),
        operator: str = Form(""),
        note: str = Form(""),
        token: str = Form(""),
        csrf_token: str = Form("", alias=CSRF_FIELD),
    ) -> HTMLResponse:
        problem = csrf_problem(request, csrf_token) or token_problem(settings.operator_token, token)
        if problem:
            status = 400 if csrf_problem(request, csrf_token) else 403
            return page(request, "message.html", status_code=status, title="Refused", message=problem)
        with session() as s:
            results, ctx = _evaluate(s)
            try:
                ack = acknowledge(s, results, alarm, key, operator, note, ctx.now)
                s.commit()
            except AckError as exc:
                return page(
                    request, "message.html", status_code=exc.status, title="Refused", message=str(exc)
                )
        level = {1: "warning", 2: "error"}[ack.severity]
        return page(
            request, "message.html", title="Alarm acknowledged",
            message=f"Alarm {alarm} ({key}) acknowledged at {level} by {ack.acknowledged_by}: it stops paging "
                    "until its severity changes",
        )  # fmt: skip

    @app.get("/metrics")
    def metrics() -> Response:
        with session() as s:
            results, ctx = _evaluate(s)
        return Response(render(results, ctx.now), media_type=CONTENT_TYPE)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    return app
