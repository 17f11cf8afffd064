"""What ``make coverage`` writes for a person: ``coverage.png`` (bins hit against runs, and against random
seeds with each series' closure) and ``coverage.md`` (the functional, RTL and firmware coverage, the open
and unreachable bins, every bin with the run that first hit it)."""

from __future__ import annotations

from pathlib import Path

from sim.coverage.func import MODEL, UNREACHABLE, reachable
from sim.coverage.tally import Tally
from sim.reports.tables import markdown_table

__all__ = ["write_plot", "render_report"]


def write_plot(
    curves: dict[str, list[int]],
    prefix: int,
    total: int,
    closable: int,
    path: Path,
    closure: dict[str, int | None] | None = None,
) -> None:
    """Bins hit against runs (left), and against random seeds after the named and directed runs,
    on a log scale with each series' closure marked (right)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), dpi=110)
    whole, seeds = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    colours = {"biased": "#d62728", "unbiased": "#1f77b4"}
    names = {"biased": "coverage-directed", "unbiased": "unbiased"}
    for name, curve in curves.items():
        whole.plot(range(1, len(curve) + 1), curve, lw=1.2, color=colours.get(name), label=names.get(name, name))
        tail = curve[prefix:]
        if tail:
            seeds.step(
                range(1, len(tail) + 1),
                tail,
                where="post",
                lw=1.4,
                color=colours.get(name),
                label=names.get(name, name),
            )
        at = (closure or {}).get(name)
        if at:
            seeds.axvline(at, color=colours.get(name), lw=0.8, ls=":")
            seeds.annotate(
                f"closure: {at} seeds",
                (at, closable),
                textcoords="offset points",
                xytext=(4, -14 if name == "biased" else -26),
                fontsize=7,
                color=colours.get(name),
            )
    for ax in (whole, seeds):
        ax.axhline(closable, color="green", lw=0.8, ls="--", label=f"{closable} reachable bins")
        ax.axhline(total, color="grey", lw=0.8, ls="--", label=f"all {total} bins")
        ax.set_ylabel("bins hit")
    whole.axvline(prefix + 0.5, color="grey", lw=0.6, ls=":")
    whole.set_xlabel(f"runs (first {prefix}: named scenarios, directed tests)")
    whole.set_ylim(0, total + 3)
    seeds.set_xscale("log")
    seeds.set_xlabel("random seeds after them (log scale)")
    low = min((c[prefix] for c in curves.values() if len(c) > prefix), default=0)
    seeds.set_ylim(max(0, low - 3), total + 1)
    seeds.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def _points(part: dict) -> list[str]:
    """Points hit of the total, and the share (two cells)."""
    # Rounded down, as sim/coverage/rtl.py does: 99.97 % is not 100 %.
    pct = "-" if not part["total"] else f"{1000 * part['hit'] // part['total'] / 10:.1f} %"
    return [f"{part['hit']}/{part['total']}", pct]


def render_report(out: Path, tally: Tally, results: list, args, code: dict, closure: dict, prefix: int) -> str:
    covered = tally.covered()
    closable = len(reachable())
    hit_reachable = closable - len(tally.open())
    lines = [
        "# Coverage",
        "",
        f"Functional coverage: **{covered}/{len(MODEL)} bins** hit ({hit_reachable}/{closable} of the "
        f"reachable ones; {len(UNREACHABLE)} unreachable, justified below) over {len(results)} runs: "
        f"{prefix} named scenarios and directed modules, then {args.seeds} random seeds"
        f"{' (coverage-directed)' if not args.unbiased else ''}.",
        "",
    ]
    for name, at in closure.items():
        lines.append(
            f"- {name} random seeds: "
            + (f"closure after **{at}** seeds" if at is not None else f"no closure in {args.seeds} seeds")
        )
    failed = [r for r in results if not r["ok"]]
    lines += [
        "",
        f"Runs that failed: {len(failed)}"
        + ("" if not failed else " (" + ", ".join(r["label"] for r in failed[:10]) + "; kept under runs/)"),
        "",
    ]
    if "rtl" in code:
        lines += [
            "## RTL code coverage (Verilator line and toggle)",
            "",
        ]
        lines += markdown_table(
            ["block", "line points", "line %", "toggle points", "toggle %"],
            [[block, *_points(e["line"]), *_points(e["toggle"])] for block, e in code["rtl"]["blocks"].items()],
            align="lrrrr",
        )
        lines += ["", "Per build, the uncovered lines, the annotated sources, rtl.info and HTML: `rtl/summary.md`.", ""]
    if "fw" in code:
        fw = code["fw"]
        lines += [
            "## Firmware code coverage (coverage.py with branches)",
            "",
        ]
        rows = []
        for title, key in (
            ("functions the seeds define", "seed_total"),
            ("functions the seeds call", "seed_called_total"),
            ("the rest of firmware/", "rest_total"),
            ("all of firmware/", "firmware_total"),
        ):
            part = fw.get(key) or {}
            run = f"{part['functions_run']}/{part['functions']}" if "functions" in part else ""
            rows.append(
                [
                    title,
                    run,
                    f"{part.get('statements_run')}/{part.get('statements')} ({part.get('statements_pct')} %)",
                    f"{part.get('branches_taken')}/{part.get('branches')} ({part.get('branches_pct')} %)",
                ]
            )
        lines += markdown_table(["part", "functions run", "statements", "branches"], rows, align="lrrr")
        lines += [
            "",
            "Per seed function, with the missed lines and branches: `fw/fw_coverage.md`; coverage.py's "
            "HTML in `fw/html/`, lcov in `fw/fw_coverage.lcov`.",
            "",
        ]
    lines += ["## Bins not hit", ""]
    lines += [f"- `{n}`: {MODEL[n]}" for n in tally.open()] or ["(none: closure)"]
    lines += ["", "## Unreachable bins", ""]
    lines += [f"- `{n}` ({'hit anyway' if tally.hits[n] else 'not hit'}): {why}" for n, why in UNREACHABLE.items()]
    lines += ["", "## Every bin", ""]
    lines += markdown_table(
        ["bin", "what", "hits", "first hit by"],
        [
            [
                f"`{n}`",
                MODEL[n],
                f"{tally.hits[n]:,}",
                tally.first.get(n, "*unreachable*" if n in UNREACHABLE else "**not hit**"),
            ]
            for n in MODEL
        ],
    )
    return "\n".join(lines) + "\n"
