"""The data-quality pages of the status page: a run's verdict, failing checks, monitoring plots,
sign-off form and bad time intervals (``/lat-runs/RUN/dq``), and the runs by verdict (``/dq``).

The plots are served only by their file name among the run's monitoring plots
(:func:`fermi_l1.monitoring.published.plot_paths`), so no other file can be asked for. Signing a
run off is a write: it needs the operator token and the CSRF token, like the re-run form
(:mod:`fermi_isoc.web.security`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.orm import Session

from fermi_core.site import Site, run_folder
from fermi_isoc import dataquality as dq
from fermi_isoc.web.cache import TtlCache
from fermi_isoc.web.security import CSRF_FIELD

#: CSS class and label of each verdict badge on the pages
BADGES = {"good": "dq-good", "warning": "dq-warning", "bad": "dq-bad"}


@dataclass(frozen=True)
class Badge:
    """What the index shows of a run's data quality: the verdict, or the sign-off when there is one."""

    run: int
    verdict: str
    signoff: str | None
    n_failing: int

    @property
    def label(self) -> str:
        """``good``, ``warning (2)``, ``bad (1), signed bad``."""
        text = self.verdict + (f" ({self.n_failing})" if self.n_failing else "")
        return text + (f", signed {self.signoff}" if self.signoff else "")

    @property
    def css(self) -> str:
        """The CSS class of the badge (the sign-off's when signed)."""
        return BADGES.get(self.signoff or self.verdict, "")


def badges(session: Session, run_ids: list[int]) -> dict[int, Badge]:
    """``{run: badge}`` of the runs of one page of the index (runs not evaluated are absent)."""
    return {
        run: Badge(run, v.verdict, v.signoff, len(v.checks))
        for run, v in dq.verdicts_by_run(session, run_ids).items()
    }


def add_routes(
    app: FastAPI,
    *,
    page: Callable[..., HTMLResponse],
    make_session: Callable[[], Session],
    write_refusal: Callable[[Request, str, str], HTMLResponse | None],
    site: Callable[[], Site],
    cache: TtlCache,
    writable: bool,
) -> None:
    """Add the data-quality routes to the status page ``app``.

    Parameters
    ----------
    app
        The application of :func:`fermi_isoc.web.app.create_app`.
    page
        Renders a template with the CSRF token (``page(request, name, status_code=200, **context)``).
    make_session
        A new database session.
    write_refusal
        The refusal of a write, given its form's CSRF and operator tokens (None when it may go
        ahead).
    site
        The data home the plots are stored in.
    cache
        The page's cache, cleared after a write.
    writable
        True when an operator token is configured (the sign-off form is shown).
    """

    def quality(run_id: int) -> dq.RunQuality:
        with make_session() as s:
            q = dq.run_quality(s, site(), run_id)
        if q.verdict is None and q.halfpipe is None and q.span is None:
            raise HTTPException(404, f"no LAT run {run_id}")
        return q

    def dq_page(request: Request, run_id: int, message: str = "") -> HTMLResponse:
        q = quality(run_id)
        return page(
            request, "lat_run_dq.html", q=q, v=q.verdict, key=run_folder(run_id), writable=writable,
            keys_text=dq.keys_text, badge=BADGES, message=message,
        )  # fmt: skip

    @app.get("/lat-runs/{run_id}/dq", response_class=HTMLResponse)
    def run_dq_page(request: Request, run_id: int) -> HTMLResponse:
        return dq_page(request, run_id)

    @app.get("/lat-runs/{run_id}/dq/plots/{name}")
    def run_dq_plot(run_id: int, name: str) -> FileResponse:
        q = quality(run_id)
        match = [p for p in q.plots if p.name == name]
        if not match or not match[0].is_file():
            raise HTTPException(404, f"run {run_id} has no monitoring plot {name!r}")
        return FileResponse(match[0], media_type="image/png")

    @app.post("/lat-runs/{run_id}/dq/signoff", response_class=HTMLResponse)
    def run_dq_signoff(
        request: Request,
        run_id: int,
        verdict: str = Form(...),
        operator: str = Form(""),
        reason: str = Form(""),
        token: str = Form(""),
        csrf_token: str = Form("", alias=CSRF_FIELD),
    ) -> HTMLResponse:
        refused = write_refusal(request, csrf_token, token)
        if refused is not None:
            return refused
        with make_session() as s:
            try:
                dq.sign_off(s, run_id, verdict, operator, reason)
                s.commit()
            except (ValueError, LookupError) as exc:
                return page(request, "message.html", status_code=400, title="Refused", message=str(exc))
        cache.clear()
        return dq_page(request, run_id, message=f"Run {run_id} signed off {verdict} by {operator}: {reason}")

    @app.get("/dq", response_class=HTMLResponse)
    def dq_list_page(request: Request, verdict: str = "") -> HTMLResponse:
        with make_session() as s:
            try:
                rows = dq.verdicts(s, verdict=verdict.strip() or None)
            except dq.DataQualityError as exc:
                raise HTTPException(400, str(exc)) from exc
            counts = dq.verdict_counts(s)
        return page(
            request, "dq.html", rows=rows, counts=counts, verdict=verdict.strip(), verdicts=dq.VERDICTS,
            badge=BADGES, check_text=dq.check_text,
        )  # fmt: skip
