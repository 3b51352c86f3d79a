"""The timeline of one LAT run as an inline SVG: its steps' attempts on a UTC time axis.

One row per task run (a recon crumb, the run input, the L1 products), grouped by step in chain
order; each attempt is a bar from its start to its end (to ``now`` while it runs) coloured by
its state, preceded by a pale bar for its queue wait (submission to start). Dashed vertical
lines mark the receipt of each delivery carrying the run's data and the first FT1 export.
Every bar has a tooltip (``<title>``) with its times. Times are UTC throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape

from fermi_isoc.queries.lat_runs import LatRunDetail

#: attempt state -> bar colour (the page's state colours)
COLOURS = {
    "done": "#2e8b2e", "failed": "#c0392b", "crashed": "#8e1b10", "running": "#1a4fa0",
    "queued": "#7f8c8d", "held": "#d08c00", "late": "#d08c00", "cancelled": "#555555",
}  # fmt: skip
QUEUE_COLOUR = "#d5dbe0"
#: candidate tick spacings, seconds
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
          172800, 604800)  # fmt: skip
WIDTH = 1000
LEFT = 190
RIGHT = 20
TOP = 50
ROW = 14
AXIS = 46


@dataclass(frozen=True)
class Tick:
    """One tick of the time axis."""

    x: float
    label: str


def _ticks(t0: datetime, t1: datetime, x_of, max_ticks: int = 8) -> list[Tick]:
    span = max((t1 - t0).total_seconds(), 1.0)
    step = next((s for s in _STEPS if span / s <= max_ticks), _STEPS[-1])
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    first = epoch + timedelta(seconds=-(-(t0 - epoch).total_seconds() // step) * step)
    out, t, last_day = [], first, None
    while t <= t1:
        fmt = "%H:%M:%S" if step < 60 else "%H:%M"
        if t.date() != last_day:
            fmt = "%Y-%m-%d " + fmt
            last_day = t.date()
        out.append(Tick(x_of(t), t.strftime(fmt)))
        t += timedelta(seconds=step)
    return out


def _short(key: str, step: str) -> str:
    """The row label: step and, for a crumb, its crumb part (``recon c0000.k001``)."""
    _, dot, crumb = key.partition(".")
    return f"{step} {crumb}" if dot else step


def render_svg(detail: LatRunDetail, now: datetime | None = None) -> str:
    """The run's timeline as an SVG document fragment (``<svg>...</svg>``)."""
    now = now or datetime.now(timezone.utc)
    s = detail.summary
    rows = [(step, key) for step, key, _state in detail.task_runs]
    index = {key: i for i, (_, key) in enumerate(rows)}
    times = [t for b in detail.bars for t in (b.submitted_at, b.started_at, b.ended_at) if t is not None]
    marks = [(t, f"delivery {d} received") for d, t in s.deliveries if t is not None]
    if s.ft1_exported is not None:
        marks.append((s.ft1_exported, "first FT1 exported"))
    times += [t for t, _ in marks]
    if any(b.started_at is not None and b.ended_at is None for b in detail.bars):
        times.append(now)
    height = TOP + max(len(rows), 1) * ROW + AXIS
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" font-size="11" role="img" '
        f'aria-label="timeline of LAT run {s.run_id}">',
        f'<text x="{LEFT}" y="14" font-weight="bold">LAT run {s.run_id}: attempts of each step (time UTC)</text>',
    ]
    if not times:
        out.append(f'<text x="{LEFT}" y="{TOP + 10}">no attempt and no delivery recorded yet</text></svg>')
        return "\n".join(out)
    t0, t1 = min(times), max(times)
    if t1 <= t0:
        t1 = t0 + timedelta(seconds=1)
    pad = (t1 - t0) * 0.02
    t0, t1 = t0 - pad, t1 + pad
    scale = (WIDTH - LEFT - RIGHT) / (t1 - t0).total_seconds()

    def x_of(t: datetime) -> float:
        return round(LEFT + (t - t0).total_seconds() * scale, 1)

    bottom = TOP + max(len(rows), 1) * ROW
    for tick in _ticks(t0, t1, x_of):
        out.append(f'<line x1="{tick.x}" y1="{TOP - 4}" x2="{tick.x}" y2="{bottom}" stroke="#e6e6e6"/>')
        out.append(
            f'<text class="tick" x="{tick.x}" y="{bottom + 14}" text-anchor="middle">{tick.label}</text>'
        )
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#444"/>')
    out.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{bottom + 30}" text-anchor="middle">time (UTC)</text>'
    )
    previous = None
    for i, (step, key) in enumerate(rows):
        y = TOP + i * ROW
        if step != previous and previous is not None:
            out.append(f'<line x1="0" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="#bbb"/>')
        previous = step
        out.append(
            f'<text x="{LEFT - 6}" y="{y + ROW - 3}" text-anchor="end">{escape(_short(key, step))}</text>'
        )
    for b in detail.bars:
        y = TOP + index[b.task_run] * ROW + 2
        if b.submitted_at is not None and b.started_at is not None and b.started_at > b.submitted_at:
            x0, x1 = x_of(b.submitted_at), x_of(b.started_at)
            out.append(f'<rect class="queue" x="{x0}" y="{y}" width="{max(x1 - x0, 1)}" height="{ROW - 4}" '
                       f'fill="{QUEUE_COLOUR}"><title>{escape(b.task_run)} attempt {b.attempt}: queued '
                       f'{b.submitted_at:%H:%M:%S} to {b.started_at:%H:%M:%S} UTC</title></rect>')  # fmt: skip
        if b.started_at is None:
            continue
        end = b.ended_at or now
        x0, x1 = x_of(b.started_at), x_of(end)
        ended = f"{b.ended_at:%Y-%m-%d %H:%M:%S}" if b.ended_at else "still running"
        out.append(
            f'<rect class="attempt" data-state="{escape(b.state)}" x="{x0}" y="{y}" width="{max(x1 - x0, 2)}" '
            f'height="{ROW - 4}" fill="{COLOURS.get(b.state, "#999")}"><title>{escape(b.task_run)} attempt '
            f"{b.attempt} {escape(b.state)}: {b.started_at:%Y-%m-%d %H:%M:%S} to {ended} UTC</title></rect>"
        )
    for i, (t, label) in enumerate(sorted(marks)):
        x = x_of(t)
        out.append(f'<line class="mark" x1="{x}" y1="{TOP - 8}" x2="{x}" y2="{bottom}" stroke="#6a1b9a" '
                   f'stroke-dasharray="4 3"><title>{escape(label)} at {t:%Y-%m-%d %H:%M:%S} UTC</title></line>')  # fmt: skip
        out.append(
            f'<text x="{x + 3}" y="{TOP - 20 + 10 * (i % 2)}" fill="#6a1b9a" font-size="10">{escape(label)}</text>'
        )
    lx = LEFT
    for state in ("done", "running", "failed", "crashed", "queued"):
        out.append(f'<rect x="{lx}" y="{bottom + 36}" width="10" height="8" fill="{COLOURS[state]}"/>'
                   f'<text x="{lx + 13}" y="{bottom + 44}">{state}</text>')  # fmt: skip
        lx += 75
    out.append(f'<rect x="{lx}" y="{bottom + 36}" width="10" height="8" fill="{QUEUE_COLOUR}"/>'
               f'<text x="{lx + 13}" y="{bottom + 44}">queue wait</text>')  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)
