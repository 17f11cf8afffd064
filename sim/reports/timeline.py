"""A PNG timeline of a run: which thread ran on which core when, interrupts, IPIs and a panic.

``render_timeline(run_dir)`` reads ``run_dir/trace.jsonl`` and ``run_dir/counters.json``
(written by ``lwkt-soc run``) and writes ``run_dir/timeline.png``:

- one horizontal lane per CPU (cpu0 at the top). A thread runs on a CPU from the
  ``switch`` to it until the next ``switch`` on that CPU; before the first switch the
  CPU's idle thread runs (:func:`run_intervals`). Each interval is coloured by the
  thread's priority (``td_pri & TDPRI_MASK``, colour bar on the right), the idle thread
  in light grey, and carries the thread's name where it fits;
- interrupts taken as small triangles under the lane, coloured by source (IPI, timer,
  soft, external line); interrupts deferred by a critical section as hollow triangles;
- IPIs as arrows from the sender's lane at ``ipi_send`` to the receiver's lane at the
  matching ``ipi_receive`` (:func:`match_ipis`: per (source, destination) pair, in
  order). Beyond ``max_arrows`` only every k-th is drawn, and the legend says so;
- a panic as a red vertical line with its message.

Matplotlib is used through its Agg canvas directly (no pyplot), so rendering never
changes the backend or global state of the process that calls it.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict, deque
from pathlib import Path
from typing import NamedTuple
from collections.abc import Iterable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgb
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator
import matplotlib
import numpy as np

from firmware import thread as _thread
from hdl import memory_map as mm
from sim.reports.run_files import RunFiles

__all__ = ["Interval", "IpiArrow", "run_intervals", "idle_threads", "match_ipis", "render_timeline"]

IDLE_COLOR = "#d9d9d9"
IPI_COLOR = "#1f5fbf"
TIMER_COLOR = "#222222"
SOFT_COLOR = "#17becf"
EXT_COLORS = ("#b000b5", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
PANIC_COLOR = "#e00000"
PRIORITY_CMAP = "YlGn"
PRIORITY_NAMES = {
    getattr(_thread, f"TDPRI_{n}"): n
    for n in (
        "IDLE_THREAD",
        "USER_IDLE",
        "USER_NORM",
        "USER_REAL",
        "KERN_USER",
        "KERN_DAEMON",
        "SOFT_TIMER",
        "SOFT_NORM",
        "INT_SUPPORT",
        "INT_LOW",
        "INT_MED",
        "INT_HIGH",
    )
}

BAR_HALF = 0.30  # a lane's bar spans cpu +- BAR_HALF (lanes are 1 apart, cpu0 at the top)
MARK_OFFSET = 0.43  # interrupt marks sit under the bar
DPI = 110


class Interval(NamedTuple):
    """``tid`` (``name``, priority ``pri``) ran on a CPU from ``start`` to ``end`` (cycles)."""

    start: int
    end: int
    tid: int
    name: str
    pri: int


class IpiArrow(NamedTuple):
    """An IPI sent by ``source`` at ``send_cycle`` and run on ``dest`` at ``receive_cycle``."""

    source: int
    send_cycle: int
    dest: int
    receive_cycle: int
    func: str


def _cycle_order(records: Iterable[dict]) -> list[dict]:
    """The records by cycle; a stable sort keeps the emission order within a cycle."""
    return sorted(records, key=lambda r: r.get("cycle", 0))


def idle_threads(records: Iterable[dict], ncpu: int) -> dict[int, tuple[int, str]]:
    """Each CPU's idle thread as (tid, name).

    Nothing has switched on a CPU before its first record, so the thread that emits
    the first record of a CPU is its idle thread. A CPU without records falls back
    to the firmware's name ``idle<cpu>`` and the tid of a switch to that name, if any.
    """
    idle: dict[int, tuple[int, str]] = {}
    named: dict[str, int] = {}
    for r in _cycle_order(records):
        cpu = r.get("cpu")
        if isinstance(cpu, int) and 0 <= cpu < ncpu and cpu not in idle:
            idle[cpu] = (r.get("tid", 0), r.get("thread", f"idle{cpu}"))
        if r.get("event") == "switch":
            named.setdefault(r.get("to_thread", ""), r.get("to", 0))
    for cpu in range(ncpu):
        if cpu not in idle:
            idle[cpu] = (named.get(f"idle{cpu}", 0), f"idle{cpu}")
    return idle


def run_intervals(records: Iterable[dict], ncpu: int, end_cycle: int, start_cycle: int = 0) -> list[list[Interval]]:
    """Per CPU, the intervals of the threads that ran on it, in order.

    A thread runs on a CPU from the ``switch`` to it until the next ``switch`` on that
    CPU (or ``end_cycle``); from ``start_cycle`` to the first switch the CPU's idle
    thread runs, at priority 0. Empty intervals (two switches in one cycle) are left out.
    """
    records = _cycle_order(records)
    idle = idle_threads(records, ncpu)
    current = {cpu: (start_cycle, idle[cpu][0], idle[cpu][1], _thread.TDPRI_IDLE_THREAD) for cpu in range(ncpu)}
    lanes: list[list[Interval]] = [[] for _ in range(ncpu)]
    for r in records:
        cpu = r.get("cpu")
        if r.get("event") != "switch" or not isinstance(cpu, int) or not 0 <= cpu < ncpu:
            continue
        cycle = max(r["cycle"], start_cycle)
        start, tid, name, pri = current[cpu]
        if cycle > start:
            lanes[cpu].append(Interval(start, cycle, tid, name, pri))
        current[cpu] = (cycle, r["to"], r.get("to_thread", f"#{r['to']}"), r.get("to_pri", 0))
    for cpu in range(ncpu):
        start, tid, name, pri = current[cpu]
        if end_cycle > start:
            lanes[cpu].append(Interval(start, end_cycle, tid, name, pri))
    return lanes


def match_ipis(records: Iterable[dict]) -> tuple[list[IpiArrow], list[dict]]:
    """Pair each ``ipi_receive`` with the oldest unmatched ``ipi_send`` of its (source, dest).

    Returns the pairs in send order and the sends that were never received.
    """
    pending: dict[tuple[int, int], deque] = defaultdict(deque)
    arrows: list[tuple[int, IpiArrow]] = []
    for index, r in enumerate(_cycle_order(records)):
        if r.get("event") == "ipi_send":
            pending[(r["cpu"], r["dest"])].append((index, r))
        elif r.get("event") == "ipi_receive":
            queue = pending.get((r["source"], r["cpu"]))
            if queue:
                order, send = queue.popleft()
                arrows.append(
                    (
                        order,
                        IpiArrow(
                            send["cpu"], send["cycle"], r["cpu"], r["cycle"], str(send.get("func", r.get("func", "")))
                        ),
                    )
                )
    arrows.sort(key=lambda pair: pair[0])
    unmatched = sorted((send for queue in pending.values() for send in queue), key=lambda pair: pair[0])
    return [a for _, a in arrows], [send for _, send in unmatched]


# -- rendering ----------------------------------------------------------------------------------


def _source_style(source: int) -> tuple[str, str]:
    """(legend label, colour) of an interrupt source of the per-CPU controller."""
    if source == mm.SOURCE_IPI:
        return "IPI interrupt", IPI_COLOR
    if source == mm.SOURCE_TIMER:
        return "timer interrupt (hardclock)", TIMER_COLOR
    if source == mm.SOURCE_SOFT:
        return "soft interrupt", SOFT_COLOR
    line = source - mm.SOURCE_EXT0
    return f"external line {line}", EXT_COLORS[line % len(EXT_COLORS)]


def _thin_out(arrows: list[IpiArrow], max_arrows: int) -> tuple[list[IpiArrow], int]:
    """At most ``max_arrows`` arrows: every k-th of each (source, dest) pair, so that thinning
    hides no pair (unless there are more pairs than ``max_arrows``). Returns (arrows, k)."""
    if max_arrows <= 0:
        return [], 0
    step = max(1, math.ceil(len(arrows) / max_arrows))
    while True:
        seen: dict[tuple[int, int], int] = defaultdict(int)
        kept = []
        for a in arrows:
            if seen[(a.source, a.dest)] % step == 0:
                kept.append(a)
            seen[(a.source, a.dest)] += 1
        if len(kept) <= max_arrows or len(kept) == len(seen):
            break
        step = math.ceil(step * 1.2)
    if len(kept) > max_arrows:  # more pairs than arrows allowed: one arrow in so many
        kept = kept[:: math.ceil(len(kept) / max_arrows)]
    return kept, step


def _ncpu(records: list[dict], counters: dict) -> int:
    per_cpu = counters.get("per_cpu")
    n = len(per_cpu) if isinstance(per_cpu, list) and per_cpu else 0
    cpus = [r["cpu"] for r in records if isinstance(r.get("cpu"), int) and r["cpu"] >= 0]
    return max(n, (max(cpus) + 1) if cpus else 1)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _title(counters: dict, ncpu: int, records: list[dict], span: int) -> tuple[str, str, bool]:
    scenario = counters.get("scenario", "?")
    mode = counters.get("mode")
    outcome = counters.get("outcome", "?")
    checks = counters.get("checks") or []
    failed = [c for c in checks if not c.get("ok", True)]
    cpus = f"{ncpu} CPU" + ("s" if ncpu != 1 else "") + (f" ({mode})" if mode else "")
    line1 = f"{scenario}  ·  {cpus}  ·  seed {counters.get('seed', '?')}  ·  outcome: {outcome}"
    if checks:
        line1 += f"  ·  checks {len(checks) - len(failed)}/{len(checks)} ok"
    count = defaultdict(int)
    for r in records:
        count[r.get("event")] += 1
    cycles = counters.get("cycles")
    cycles = cycles if isinstance(cycles, int) else span
    line2 = (
        f"{cycles:,} cycles  ·  {count['switch']} switches  ·  {count['interrupt']} interrupts  ·  "
        f"{count['ipi_send']} IPIs  ·  {count['preempt']} preemptions"
    )
    bad = outcome not in ("done", "?") or bool(failed) or bool(counters.get("panic"))
    return line1, line2, bad


def _figure_size(span: int, ncpu: int) -> tuple[float, float, float]:
    """(width, plot height, lane height) in inches; the width grows with log2 of the cycle span."""
    width = min(32.0, 12.0 + 3.5 * math.log2(1.0 + span / 2000.0))
    lane = 0.62 if ncpu <= 4 else 0.5 if ncpu <= 8 else 0.42 if ncpu <= 16 else 0.34
    plot = max(ncpu * lane, 1.4)
    return width, plot, plot / ncpu


def render_timeline(run_dir: Path, out_png: Path | None = None, *, max_arrows: int = 300) -> Path:
    """Draw the run in ``run_dir`` to ``out_png`` (default ``run_dir/timeline.png``); returns its path."""
    run_dir = Path(run_dir)
    out_png = Path(out_png) if out_png is not None else run_dir / "timeline.png"
    files = RunFiles(run_dir)
    records = _cycle_order(files.trace())
    counters = files.counters(required=False)

    ncpu = _ncpu(records, counters)
    start = 0
    cycles = counters.get("cycles")
    end = max([r["cycle"] for r in records] + [cycles if isinstance(cycles, int) else 0, start + 1])
    panic = counters.get("panic") or None
    panics = [r for r in records if r.get("event") == "panic"]
    if not panics and isinstance(panic, dict) and "cycle" in panic:
        panics = [
            {
                "cycle": panic["cycle"],
                "cpu": panic.get("cpu"),
                "thread": panic.get("thread", "?"),
                "message": panic.get("message", ""),
            }
        ]
    end = max([end] + [p["cycle"] for p in panics])
    span = end - start
    lanes = run_intervals(records, ncpu, end, start)
    idle = idle_threads(records, ncpu)

    # -- the figure: fixed margins in inches, so label widths can be measured in pixels --------
    width, plot_h, lane_h = _figure_size(span, ncpu)
    left, right, top, bottom = 0.8, 1.9, 0.85, 1.2
    height = top + plot_h + bottom
    fig = Figure(figsize=(width, height), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((left / width, bottom / height, (width - left - right) / width, plot_h / height))
    cax = fig.add_axes(((width - right + 0.35) / width, bottom / height, 0.16 / width, plot_h / height))
    ax.set_xlim(start, end + max(1, span // 100))  # room for a panic line at the very end
    ax.set_ylim(ncpu - 0.5, -0.5)
    ax.set_yticks(range(ncpu), [f"cpu{c}" for c in range(ncpu)])
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("cycle")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=max(6, int(width * 0.8)), integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(x):,}"))
    ax.grid(axis="x", color="#eeeeee", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for c in range(1, ncpu):
        ax.axhline(c - 0.5, color="#f0f0f0", lw=0.6, zorder=0)

    # -- priority colours ------------------------------------------------------------------------
    # One colour band per priority that occurs (an ordinal scale), so that close priorities
    # such as 10 and 12, or 27 and 28, stay apart; the colour bar names each band.
    pris = sorted({iv.pri for cpu in range(ncpu) for iv in lanes[cpu] if iv.tid != idle[cpu][0]})
    rank = {pri: i for i, pri in enumerate(pris)}
    base = matplotlib.colormaps[PRIORITY_CMAP]
    cmap = ListedColormap(base(np.linspace(0.3, 0.92, len(pris))) if len(pris) > 1 else base([0.6]))
    norm = BoundaryNorm(np.arange(-0.5, max(len(pris), 1)), cmap.N)

    def pri_color(pri: int):
        return cmap(rank[pri])

    # -- thread intervals and their names -------------------------------------------------------
    renderer = canvas.get_renderer()
    px_per_cycle = ax.get_window_extent(renderer).width / (ax.get_xlim()[1] - start)
    label_width: dict[tuple[str, float], float] = {}

    def text_width(name: str, size: float) -> float:
        if (name, size) not in label_width:
            probe = ax.text(0, 0, name, fontsize=size)
            label_width[(name, size)] = probe.get_window_extent(renderer).width
            probe.remove()
        return label_width[(name, size)]

    for cpu in range(ncpu):
        bars, colors = [], []
        for iv in lanes[cpu]:
            is_idle = iv.tid == idle[cpu][0]
            color = IDLE_COLOR if is_idle else pri_color(iv.pri)
            bars.append((iv.start, iv.end - iv.start))
            colors.append(color)
            if is_idle:
                continue
            # the name in 7 points, or in 6 where that is what fits; nothing in narrower intervals
            room = (iv.end - iv.start) * px_per_cycle - 5
            size = next((size for size in (7, 6) if text_width(iv.name, size) <= room), None)
            if size is not None:
                r, g, b = to_rgb(color)
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45
                ax.text(
                    (iv.start + iv.end) / 2,
                    cpu,
                    iv.name,
                    fontsize=size,
                    ha="center",
                    va="center",
                    color="white" if dark else "black",
                    zorder=4,
                    clip_on=True,
                )
        ax.broken_barh(
            bars, (cpu - BAR_HALF, 2 * BAR_HALF), facecolors=colors, edgecolor="white", linewidth=0.4, zorder=2
        )

    # -- interrupts --------------------------------------------------------------------------------
    legend: list = [Patch(facecolor=IDLE_COLOR, label="idle thread")]
    by_source: dict[int, list[tuple[int, int]]] = defaultdict(list)
    deferred: list[tuple[int, int]] = []
    for r in records:
        if not isinstance(r.get("cpu"), int) or not 0 <= r["cpu"] < ncpu:
            continue
        if r.get("event") == "interrupt":
            by_source[r.get("source", -1)].append((r["cycle"], r["cpu"]))
        elif r.get("event") == "intr_deferred":
            deferred.append((r["cycle"], r["cpu"]))
    for source in sorted(by_source):
        label, color = _source_style(source)
        xs, ys = zip(*by_source[source], strict=True)
        ax.scatter(
            xs, [y + MARK_OFFSET for y in ys], marker="^", s=22, color=color, linewidths=0, zorder=5, clip_on=False
        )
        legend.append(Line2D([], [], marker="^", linestyle="", color=color, markersize=6, label=f"{label} ({len(xs)})"))
    if deferred:
        xs, ys = zip(*deferred, strict=True)
        ax.scatter(
            xs,
            [y + MARK_OFFSET for y in ys],
            marker="^",
            s=22,
            facecolors="none",
            edgecolors="black",
            linewidths=0.8,
            zorder=5,
            clip_on=False,
        )
        legend.append(
            Line2D(
                [],
                [],
                marker="^",
                linestyle="",
                markerfacecolor="none",
                markeredgecolor="black",
                markersize=6,
                label=f"interrupt deferred by a critical section ({len(xs)})",
            )
        )

    # -- IPIs ------------------------------------------------------------------------------------
    arrows, lost = match_ipis(records)
    arrows = [a for a in arrows if a.source < ncpu and a.dest < ncpu]
    drawn, step = _thin_out(arrows, max_arrows)
    for a in drawn:
        down = a.dest > a.source
        y0 = a.source + (BAR_HALF if down else -BAR_HALF)
        y1 = a.dest - (BAR_HALF if down else -BAR_HALF)
        ax.annotate(
            "",
            xy=(a.receive_cycle, y1),
            xytext=(a.send_cycle, y0),
            zorder=6,
            arrowprops=dict(
                arrowstyle="-|>", color=IPI_COLOR, lw=0.7, alpha=0.7, mutation_scale=7, shrinkA=0, shrinkB=0
            ),
        )
    if arrows:
        what = f"IPI send → receive ({len(arrows)})"
        if len(drawn) < len(arrows):
            what = f"IPI send → receive: {len(drawn)} of {len(arrows)} drawn" + (
                f" (every {_ordinal(step)} per CPU pair)" if step > 1 else ""
            )
        legend.append(Line2D([], [], color=IPI_COLOR, lw=1.2, marker=">", markevery=[1], markersize=5, label=what))
    if lost:
        ax.scatter(
            [s["cycle"] for s in lost],
            [s["cpu"] for s in lost],
            marker="x",
            s=30,
            color=IPI_COLOR,
            linewidths=1.2,
            zorder=6,
        )
        legend.append(
            Line2D(
                [],
                [],
                marker="x",
                linestyle="",
                color=IPI_COLOR,
                markersize=6,
                label=f"IPI sent, never received ({len(lost)})",
            )
        )

    # -- panic -------------------------------------------------------------------------------------
    for p in panics:
        ax.axvline(p["cycle"], color=PANIC_COLOR, lw=2, zorder=7)
        where = f"cpu{p['cpu']}" if p.get("cpu") is not None else "?"
        message = textwrap.shorten(str(p.get("message", "")), width=240, placeholder=" …")
        text = "\n".join(
            textwrap.wrap(f"panic on {where} ({p.get('thread', '?')}, cycle {p['cycle']:,}): {message}", width=70)
        )
        right_half = p["cycle"] > start + span / 2
        ax.text(
            p["cycle"],
            -0.5,
            text,
            fontsize=8,
            color=PANIC_COLOR,
            zorder=8,
            ha="right" if right_half else "left",
            va="top",
            bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor=PANIC_COLOR, alpha=0.92),
        )
    if panics:
        legend.append(Line2D([], [], color=PANIC_COLOR, lw=2, label="panic"))

    # -- a CPU stopped by fault injection (cpu-stop): its lane ends in a black bar ------------------
    stops = [r for r in records if r.get("event") == "cpu_stop"]
    for r in stops:
        ax.plot([r["cycle"], end], [r["cpu"], r["cpu"]], color="black", lw=3, zorder=6)
        ax.text(r["cycle"], r["cpu"] - 0.3, f"cpu{r['cpu']} stopped (cycle {r['cycle']:,})", fontsize=7, zorder=8)
    if stops:
        legend.append(Line2D([], [], color="black", lw=3, label="CPU stopped (fault)"))

    # -- colour bar, title, legend ----------------------------------------------------------------
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    named = len(pris) <= max(2, int(plot_h / 0.16))
    bar.set_ticks(range(len(pris)) if pris else [0])
    bar.set_ticklabels(
        [f"{p} {PRIORITY_NAMES[p]}" if named and p in PRIORITY_NAMES else str(p) for p in pris] or [""], fontsize=7
    )
    bar.ax.tick_params(length=2)
    bar.set_label("thread priority", fontsize=8)
    if not pris:
        bar.ax.set_visible(False)

    line1, line2, bad = _title(counters, ncpu, records, span)
    fig.text(
        left / width,
        1 - 0.28 / height,
        line1,
        fontsize=12,
        fontweight="bold",
        color="#a00000" if bad else "black",
        va="center",
    )
    fig.text(left / width, 1 - 0.55 / height, line2, fontsize=9, color="#444444", va="center")
    fig.legend(
        handles=legend,
        loc="lower left",
        bbox_to_anchor=(left / width, 0.02),
        ncol=min(len(legend), 4),
        fontsize=8,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.6,
    )

    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.name}.tmp")
    fig.savefig(tmp, dpi=DPI, facecolor="white", format="png")
    tmp.replace(out_png)  # written under a temporary name, then renamed into place
    return out_png


if __name__ == "__main__":  # python -m sim.reports.timeline RUN_DIR [OUT.png]
    import sys

    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m sim.reports.timeline RUN_DIR [OUT.png]")
    print(render_timeline(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None))
