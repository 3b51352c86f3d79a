"""The status page: LAT runs grouped with their halfpipe state, L1 steps and products; deliveries,
drill-down to a run's timeline and its task runs, lineage, alarms with their runbook pages, re-run.

Filters, search and page numbers are query parameters of plain links and GET forms, so the URL
keeps them (a reload or a shared link shows the same view). Only the trusted host names are
served and wrong operator tokens are rate-limited per client (:mod:`fermi_isoc.web.security`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.trustedhost import TrustedHostMiddleware

import fermi_isoc.models  # noqa: F401  (registers isoc's tables)
from fermi_core.db import get_engine
from fermi_core.engine.rerun import RerunError, request_rerun
from fermi_core.site import Site
from fermi_isoc import queries
from fermi_isoc._version import __version__
from fermi_isoc.alarms import Context, evaluate, load_alarms, worst
from fermi_isoc.alarms.acks import AckError, acknowledge
from fermi_isoc.alarms.config import RUNBOOK_DIR
from fermi_isoc.alarms.prometheus import CONTENT_TYPE, render
from fermi_isoc.jobs import job_records
from fermi_isoc.queries.halfpipe import halfpipe_states
from fermi_isoc.queries.ingest import delivery_by_id
from fermi_isoc.queries.lat_runs import L1_STATES, lat_run, lat_runs
from fermi_isoc.queries.pipeline import STATES, rerun_requests, run_by_key, state_counts
from fermi_isoc.web.cache import TtlCache
from fermi_isoc.web.dq import add_routes as add_dq_routes
from fermi_isoc.web.dq import badges as dq_badges
from fermi_isoc.web.runbook import find_runbook_dir, render_runbook
from fermi_isoc.web.security import (
    CSRF_FIELD,
    TOKEN_ENV,
    FailureLimiter,
    client_address,
    csrf_problem,
    csrf_token_for,
    set_csrf_cookie,
    token_problem,
    trusted_hosts,
)
from fermi_isoc.web.timeline import render_svg
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
    #: host names served besides localhost, 127.0.0.1 and ``$FERMI_ISOC_TRUSTED_HOSTS``
    trusted_hosts: tuple[str, ...] = ()
    #: wrong operator tokens a client may send within ``token_window_s`` before it gets 429
    token_failures: int = 5
    token_window_s: float = 300.0
    #: LAT runs per page of the index
    per_page: int = 25
    #: folder of the runbook pages (default: ``docs/operations`` of the checkout, if found)
    runbook_dir: str | None = None
    #: seconds the listings and the alarm evaluation are reused across requests (0: never;
    #: :mod:`fermi_isoc.web.cache`); a write clears them
    cache_seconds: float = 0.0


def _utc_text(met: float | None) -> str:
    if met is None or (isinstance(met, float) and math.isnan(met)):
        return ""
    return _met_text(float(met))


@lru_cache(maxsize=8192)
def _met_text(met: float) -> str:
    """UTC text of a MET (astropy, leap seconds included; remembered: a conversion costs milliseconds)."""
    return str(met_to_utc_iso(met, 0)).replace("T", " ")


def _when(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _query(params: dict[str, object], **changes: object) -> str:
    """The query string of ``params`` with ``changes`` (empty values and page 1 left out)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "") and not (k == "page" and v in (1, "1"))}
    return urlencode(kept)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application (one database engine per app).

    Raises
    ------
    ValueError
        A trusted host name that is not one (:func:`fermi_isoc.web.security.trusted_hosts`).
    """
    settings = settings or Settings()
    engine = get_engine(settings.db_url)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    specs = load_alarms(settings.alarms_path)
    hosts = trusted_hosts(settings.trusted_hosts)
    limiter = FailureLimiter(settings.token_failures, settings.token_window_s)
    runbook_dir = find_runbook_dir(settings.runbook_dir)
    cache = TtlCache(settings.cache_seconds)
    app = FastAPI(title="Fermi LAT ISOC", version=__version__, docs_url=None, redoc_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    app.state.trusted_hosts = hosts
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(utc=_utc_text, when=_when, duration=_duration)
    templates.env.globals.update(
        refresh=settings.refresh_seconds, version=__version__, states=STATES, l1_states=L1_STATES,
        query=_query, runbook_dir=RUNBOOK_DIR,
    )  # fmt: skip

    def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        token = csrf_token_for(request)
        response = templates.TemplateResponse(
            request, name, {**context, "csrf_field": CSRF_FIELD, "csrf": token}, status_code=status_code
        )
        set_csrf_cookie(response, token)
        return response

    def session() -> Session:
        return make_session()

    def _runs(s: Session, state: str | None, offset: int = 0):
        if state and state not in STATES:
            raise HTTPException(400, f"unknown state {state!r}: one of {', '.join(STATES)}")
        return queries.runs_page(s, state=state or None, offset=offset)

    def _evaluate(s: Session):
        ctx = Context(s)
        results = evaluate(specs, ctx)
        s.commit()  # acknowledgements that lapsed
        return results, ctx

    def _alarm_results(s: Session):
        """``(results, evaluation time)`` of every alarm, shared by the requests of ``cache_seconds``."""

        def compute():
            results, ctx = _evaluate(s)
            return results, ctx.now

        return cache.get("alarms", compute)

    def _write_refusal(request: Request, csrf_token: str, token: str) -> HTMLResponse | None:
        """The refusal of a write (None when it may go ahead).

        Refused with 400 when the form's CSRF token does not match the cookie, 429 while the
        client is locked out after wrong tokens, 403 when the operator token is wrong (which
        counts against the client) or writes are switched off.
        """
        problem = csrf_problem(request, csrf_token)
        if problem:
            return page(request, "message.html", status_code=400, title="Refused", message=problem)
        client = client_address(request)
        locked = limiter.refusal(client)
        if locked:
            message, wait = locked
            response = page(
                request, "message.html", status_code=429, title="Too many wrong tokens", message=message
            )
            response.headers["Retry-After"] = str(wait)
            return response
        problem = token_problem(settings.operator_token, token)
        if problem is None:
            return None
        if settings.operator_token:  # a wrong guess (not writes switched off) counts against the client
            limiter.failed(client)
        return page(request, "message.html", status_code=403, title="Refused", message=problem)

    def _lat_view(s: Session, params: dict[str, object]) -> dict[str, object]:
        """The context of the grouped LAT-run listing for the query parameters ``params``."""
        state, hp, q, number = params["state"], params["hp"], params["q"], params["page"]
        hp_counts = cache.get("halfpipe-counts", lambda: queries.halfpipe_state_counts(s))
        if hp and hp not in hp_counts:
            raise HTTPException(400, f"unknown halfpipe state {hp!r}: one of {', '.join(hp_counts)}")
        try:
            listing = cache.get(
                ("lat-runs", state, hp, q, number),
                lambda: lat_runs(s, l1_state=state or None, halfpipe_state=hp or None, text=q or None,
                                 page=int(number), per_page=settings.per_page),
            )  # fmt: skip
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        dq = cache.get(
            ("dq-badges", state, hp, q, number), lambda: dq_badges(s, [r.run_id for r in listing.runs])
        )
        return {"listing": listing, "hp_counts": hp_counts, "params": params, "dq": dq}

    def _params(state: str, hp: str, q: str, page_number: int) -> dict[str, object]:
        return {"state": state.strip(), "hp": hp.strip(), "q": q.strip(), "page": page_number}

    @app.get("/", response_class=HTMLResponse)
    def index(
        request: Request,
        state: str = "",
        hp: str = "",
        q: str = "",
        page_number: int = Query(1, alias="page"),
    ) -> HTMLResponse:
        params = _params(state, hp, q, page_number)
        with session() as s:
            return page(
                request, "index.html", **_lat_view(s, params),
                **cache.get("index", lambda: {
                    "deliveries": queries.deliveries(s, limit=20), "n_deliveries": queries.count_deliveries(s),
                    "counts": state_counts(s), "pipeline": queries.pipeline_available(s),
                }),
                alarms=[r for r in _alarm_results(s)[0] if r.firing],
            )  # fmt: skip

    @app.get("/fragments/lat-runs", response_class=HTMLResponse)
    def lat_runs_fragment(
        request: Request,
        state: str = "",
        hp: str = "",
        q: str = "",
        page_number: int = Query(1, alias="page"),
    ) -> HTMLResponse:
        with session() as s:
            return page(request, "_lat_runs.html", **_lat_view(s, _params(state, hp, q, page_number)))

    @app.get("/lat-runs/{run_id}", response_class=HTMLResponse)
    def lat_run_page(request: Request, run_id: int) -> HTMLResponse:
        with session() as s:
            detail = cache.get(("lat-run", run_id), lambda: lat_run(s, run_id))
        if detail is None:
            raise HTTPException(404, f"no LAT run {run_id}")
        svg = Markup(render_svg(detail))
        return page(request, "lat_run.html", d=detail, r=detail.summary, svg=svg)

    @app.get("/lat-runs/{run_id}/timeline.svg")
    def lat_run_timeline(run_id: int) -> Response:
        with session() as s:
            detail = cache.get(("lat-run", run_id), lambda: lat_run(s, run_id))
        if detail is None:
            raise HTTPException(404, f"no LAT run {run_id}")
        return Response(render_svg(detail), media_type="image/svg+xml")

    @app.get("/task-runs", response_class=HTMLResponse)
    def task_runs_page(request: Request, state: str | None = None, offset: int = 0) -> HTMLResponse:
        with session() as s:
            listing = _runs(s, state, offset)
            return page(request, "task_runs.html", listing=listing, runs=listing.items, state=state or "",
                        counts=state_counts(s), halfpipe=halfpipe_states(s, [r.run_id for r in listing.items]))  # fmt: skip

    @app.get("/fragments/runs", response_class=HTMLResponse)
    def runs_fragment(request: Request, state: str | None = None, offset: int = 0) -> HTMLResponse:
        with session() as s:
            listing = _runs(s, state, offset)
            return page(request, "_runs.html", listing=listing, runs=listing.items, state=state or "",
                        halfpipe=halfpipe_states(s, [r.run_id for r in listing.items]))  # fmt: skip

    @app.get("/runbook/{name}", response_class=HTMLResponse)
    def runbook(request: Request, name: str) -> HTMLResponse:
        try:
            title, body = render_runbook(runbook_dir, name)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        return page(request, "runbook.html", title=title, body=Markup(body), page_name=name)

    @app.get("/fragments/deliveries", response_class=HTMLResponse)
    def deliveries_fragment(request: Request) -> HTMLResponse:
        with session() as s:
            return page(request, "_deliveries.html", deliveries=queries.deliveries(s))

    @app.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
    def delivery(request: Request, delivery_id: str) -> HTMLResponse:
        with session() as s:
            context = cache.get(("delivery", delivery_id), lambda: _delivery_view(s, delivery_id))
        if context is None:
            raise HTTPException(404, f"no delivery {delivery_id!r}")
        return page(request, "delivery.html", **context)

    def _delivery_view(s: Session, delivery_id: str) -> dict[str, object] | None:
        d = delivery_by_id(s, delivery_id)
        if d is None:
            return None
        chunks = queries.chunks_of(s, d.pk)
        lat_runs = sorted({c.run_id for c in chunks if c.run_id is not None})
        run_list = queries.runs_of_delivery(s, d.delivery_id, lat_runs)
        per_lat_run = {rid: queries.products_of(s, rid) for rid in {r.run_id for r in run_list}}
        # LAT runs of the chunks the pipeline has not started (e.g. held back by the halfpipe)
        not_started = [rid for rid in lat_runs if rid not in {r.run_id for r in run_list}]
        return dict(
            d=d, gaps=queries.gaps_of(s, d.pk), quarantine=queries.quarantine_of(s, d.pk), chunks=chunks,
            runs=run_list, products={r.key: per_lat_run[r.run_id] for r in run_list}, not_started=not_started,
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
        refused = _write_refusal(request, csrf_token, token)
        if refused is not None:
            return refused
        with session() as s:
            try:
                req = request_rerun(s, run, step or None, who=operator, why=reason, origin="web")
                s.commit()
                cache.clear()
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
            results, _ = _alarm_results(s)
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
        refused = _write_refusal(request, csrf_token, token)
        if refused is not None:
            return refused
        with session() as s:
            results, ctx = _evaluate(s)
            try:
                ack = acknowledge(s, results, alarm, key, operator, note, ctx.now)
                s.commit()
                cache.clear()
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
            results, now = _alarm_results(s)
        return Response(render(results, now), media_type=CONTENT_TYPE)

    add_dq_routes(
        app, page=page, make_session=session, write_refusal=_write_refusal, cache=cache,
        site=lambda: Site.from_env(home=settings.home, db_url=settings.db_url),
        writable=settings.operator_token is not None,
    )  # fmt: skip

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    return app
