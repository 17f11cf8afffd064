"""``make coverage``: a stress set run with all three coverage measures, merged into one report.

    python -m sim.coverage.run [--seeds N] [--jobs J] [--unbiased] [--compare] [--no-code]
                               [--merge DIR ...] [--out DIR]

The set: the named scenarios, the directed cocotb modules of the register
contract (``sim/tb/directed/isolation.py`` and ``soc_checks.py``, which make every
legal and illegal access), then ``--seeds`` random workloads with every fault on.
Each run measures

1. **functional coverage**: the bins of ``sim/coverage/func.py`` (trace, kernel
   counters, and the hardware bins of the bus observer), exported per run as UCIS
   XML (``ucis/<run>.xml``, pyucis) and summed into ``coverage.ucis.xml``;
2. **RTL code coverage**: Verilator's line and toggle coverage on a coverage build,
   merged by ``sim/coverage/rtl.py`` into ``rtl/`` (per-block table, annotated
   sources, lcov ``rtl.info``, HTML when genhtml exists);
3. **firmware code coverage**: coverage.py with branches over ``firmware/``, merged by
   ``sim/coverage/fw.py`` into ``fw/`` (per seed function, HTML, lcov).

The random workloads are **coverage-directed** unless ``--unbiased``: each seed's
draws lean towards the bins still open (``func_coverage.STIMULUS``). ``--compare``
runs the seeds both ways and plots the two curves. ``--merge`` adds the output
folders of earlier runs (their bins and code coverage data). Outputs in ``--out``:
``coverage.json``, ``coverage.md``, ``coverage.png``, the folders above, and the
failing runs under ``runs/``. Exit 0 when every reachable bin was hit and every
run passed, 1 otherwise, 2 for bad options, 3 when a tool is missing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

from hdl.config import SocConfig
from sim.contract.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from sim.coverage.func import MODEL, UNREACHABLE, reachable, run_hits, stimulus_for
from sim.contract.hw_coverage import LEVEL_BINS
from sim.contract.outdir import atomic_write
from sim.contract.config import HW_COVERAGE_FILE
from sim.contract.directed import DIRECTED_RUNS, REGISTER_MODULES, DirectedRun
from sim.contract.outdir import FW_COVERAGE_DATA

__all__ = ["main", "NAMED_RUNS", "REGISTER_MODULES"]

#: (scenario, cpus, faults, FIFO depth): every named scenario, with the faults that act in it.
NAMED_RUNS = [
    ("up-basic", None, "", 32),
    ("up-preempt", None, "wait-states,spurious,delayed-complete", 32),
    ("up-untimely", None, "", 32),
    ("smp-pingpong", 4, "", 32),
    ("smp-ipi-storm", 4, "", 4),
    ("smp-mplock", 4, "", 32),
    ("smp-mixed", 4, "spurious,delayed-complete", 32),
    ("smp-mp-fallback", 4, "", 32),
]
RANDOM_CPUS, RANDOM_FIFO_DEPTH = 4, LEVEL_BINS
#: The kernel's directed cocotb tests (sim/contract/directed.py, those used by "coverage"), run on plain
#: builds for the firmware's code coverage (lwkt_hold/rele, the UP kernel's corners, the interleavings)
#: and the hardware bins.
KERNEL_RUNS = [run for run in DIRECTED_RUNS.values() if "coverage" in run.uses]


def run_configs(code: bool) -> list[SocConfig]:
    """The configurations the directed modules run on: with code coverage every one the runs use
    (RTL points are per build: a build the directed modules skip keeps their lines uncovered),
    else only the random workloads' (its FIFO depth gives every level bin)."""
    randoms = SocConfig(ncpu=RANDOM_CPUS, fifo_depth=RANDOM_FIFO_DEPTH)
    if not code:
        return [randoms]
    from sim.contract.catalogue import scenario_info as get_scenario

    configs = [SocConfig(ncpu=c or get_scenario(s).cpus, fifo_depth=d) for s, c, _, d in NAMED_RUNS] + [randoms]
    return list(dict.fromkeys(configs))


def _jobs(seeds: int, biased: bool, series: str, code: bool) -> list[dict]:
    named = [
        {"label": f"{s} seed 1", "kind": "scenario", "scenario": s, "seed": 1, "cpus": c, "faults": f, "fifo_depth": d}
        for s, c, f, d in NAMED_RUNS
    ]
    directed = [
        {
            "label": f"directed {m} ({c.ncpu} CPUs, FIFO {c.fifo_depth})",
            "kind": "directed",
            "module": m,
            "config": asdict(c),
        }
        for c in run_configs(code)
        for m in REGISTER_MODULES
        if m != "isolation" or c.ncpu >= 2
    ]
    if code:
        directed += [{"label": f"kernel {run.name}", "kind": "kernel", "run": run.name} for run in KERNEL_RUNS]
    randoms = [
        {
            "label": f"{series}random seed {s}",
            "kind": "scenario",
            "scenario": "random",
            "seed": s,
            "cpus": RANDOM_CPUS,
            "faults": "all",
            "fifo_depth": RANDOM_FIFO_DEPTH,
            "biased": biased,
        }
        for s in range(1, seeds + 1)
    ]
    return named + directed + randoms


def _slug(label: str) -> str:
    return label.replace(" ", "-")


def run_job(job: dict, out: Path, code: bool) -> dict:
    """One run (in a worker process): its bins, whether it passed, and its code coverage files kept
    in ``out/data``. Failing runs keep their folder under ``out/runs``."""
    started = time.perf_counter()
    folder = out / "runs" / _slug(job["label"])
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    try:
        if job["kind"] == "directed":
            hits, ok = _directed(
                job["module"], SocConfig(**job["config"]), folder, data / f"{_slug(job['label'])}.rtl.dat", code
            )
        elif job["kind"] == "kernel":
            hits, ok = _kernel(job, folder, data / f"{_slug(job['label'])}.fw.dat")
        else:
            hits, ok = _scenario(job, folder, data, code)
        error = None
    except (UsageError, EnvironmentProblem):
        raise
    except Exception as exc:  # a run that cannot even report counts as a failed run
        hits, ok, error = {}, False, f"{type(exc).__name__}: {exc}"
    if ok:
        shutil.rmtree(folder, ignore_errors=True)
    ucis = None
    if hits:
        from sim.coverage.ucis import write_ucis

        ucis = str(
            write_ucis(
                hits,
                MODEL,
                out / "ucis" / f"{_slug(job['label'])}.xml",
                test_name=job["label"],
                seed=job.get("seed"),
                ok=ok,
            )
        )
    return {
        "label": job["label"],
        "hits": hits,
        "ok": ok,
        "error": error,
        "ucis": ucis,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _scenario(job: dict, folder: Path, data: Path, code: bool) -> tuple[dict, bool]:
    from sim.host.run import run_scenario

    spec = None
    if job.get("weights") is not None:
        # The draws of a coverage-directed seed, as a spec file: the run can be repeated exactly.
        from sim.contract.catalogue import parse_faults
        from sim.contract.random_spec import generate_spec

        spec = data.parent / "specs" / f"{_slug(job['label'])}.json"
        spec.parent.mkdir(parents=True, exist_ok=True)
        drawn = generate_spec(
            job["seed"], job["cpus"], parse_faults(job["faults"]), weights=job["weights"], knobs=job["knobs"]
        )
        atomic_write(spec, drawn.to_json() + "\n")
    code_rc = run_scenario(
        job["scenario"],
        seed=job["seed"],
        cpus=job["cpus"],
        faults=job["faults"],
        fifo_depth=job["fifo_depth"],
        out=folder,
        quiet=True,
        spec=spec,
        hw_coverage=True,
        rtl_coverage=code,
        fw_coverage=code,
    )
    hits = run_hits(folder)
    slug = _slug(job["label"])
    for name, kind in (("rtl_coverage.dat", "rtl"), ("fw_coverage.dat", "fw")):
        if (folder / name).exists():
            shutil.copyfile(folder / name, data / f"{slug}.{kind}.dat")
    return hits, code_rc == EXIT_OK


def _directed(module: str, config: SocConfig, folder: Path, rtl_dat: Path, code: bool) -> tuple[dict, bool]:
    """A register module, on the coverage build of ``config`` when ``code``: its RTL points too."""
    from sim.host.runner import run_directed

    result = run_directed(
        DirectedRun(module, module, config), "verilator", _fresh(folder), hw_coverage=True, coverage_build=code
    )
    if code and (folder / "coverage.dat").exists():
        shutil.copyfile(folder / "coverage.dat", rtl_dat)
    return _hw_hits(folder), result.ok


def _kernel(job: dict, folder: Path, fw_dat: Path) -> tuple[dict, bool]:
    """A directed kernel module on a plain build (its RTL points would be a build no register test
    covers): firmware coverage through sim/tb/fw_coverage_start.py, imported before the module."""
    from sim.host.runner import run_directed

    result = run_directed(
        job["run"], "verilator", _fresh(folder), first=("sim.tb.fw_coverage_start",), hw_coverage=True, fw_coverage=True
    )
    if (folder / FW_COVERAGE_DATA).exists():
        shutil.copyfile(folder / FW_COVERAGE_DATA, fw_dat)
    return _hw_hits(folder), result.ok


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _hw_hits(folder: Path) -> dict:
    """The hardware bins a directed run recorded (sim/tb/testbench.py), as functional-coverage names."""
    from sim.contract.hw_coverage import read_hits

    return {f"hw.{name}": n for name, n in read_hits(folder / HW_COVERAGE_FILE).items() if n}


class Tally:
    """Bins hit so far over a series of runs, the run that first hit each, and the curve."""

    def __init__(self):
        self.hits = {name: 0 for name in MODEL}
        self.first: dict[str, str] = {}
        self.curve: list[int] = []

    def add(self, hits: dict, label: str, point: bool = True) -> None:
        for name, n in hits.items():
            if name in self.hits and n:
                self.hits[name] += n
                self.first.setdefault(name, label)
        if point:
            self.curve.append(self.covered())

    def covered(self) -> int:
        return sum(1 for n in self.hits.values() if n)

    def open(self) -> list[str]:
        return [name for name in reachable() if not self.hits[name]]

    def copy(self) -> Tally:
        other = Tally()
        other.hits, other.first, other.curve = dict(self.hits), dict(self.first), list(self.curve)
        return other


def _series(jobs: list[dict], tally: Tally, out: Path, workers: int, code: bool, results: list) -> int | None:
    """Run ``jobs`` (at most ``workers`` at a time, in order of submission), adding their bins to
    ``tally``; a biased random job draws from the bins open when it is submitted. Returns the
    number of random seeds after which every reachable bin was hit (None: not reached)."""
    closed_at = None
    seeds_done = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: dict = {}
        queue = list(enumerate(jobs))
        finished: dict[int, dict] = {}
        next_to_add = 0
        while queue or pending:
            while queue and len(pending) < workers:
                index, job = queue.pop(0)
                if job.get("biased"):
                    weights, knobs = stimulus_for(tally.open())
                    job = dict(job, weights=weights, knobs=knobs)
                pending[pool.submit(run_job, job, out, code)] = index
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                finished[pending.pop(future)] = future.result()
            # Bins are added in submission order, so the curve does not depend on timing.
            while next_to_add in finished:
                r = finished.pop(next_to_add)
                job = jobs[next_to_add]
                next_to_add += 1
                results.append(r)
                tally.add(r["hits"], r["label"])
                if job.get("scenario") == "random":
                    seeds_done += 1
                    if closed_at is None and not tally.open():
                        closed_at = seeds_done
                status = "ok" if r["ok"] else f"FAILED{': ' + r['error'] if r['error'] else ''}"
                print(
                    f"  {r['label']:44} {tally.covered():4}/{len(MODEL)} bins  {r['seconds']:6.1f} s  {status}",
                    flush=True,
                )
    return closed_at


def _plot(
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


def _merge_earlier(folders: list[str], tally: Tally) -> tuple[list[Path], list[Path], list[Path]]:
    """Add the bins of earlier output folders; returns their RTL, firmware and UCIS files."""
    rtl, fw, ucis = [], [], []
    for name in folders:
        folder = Path(name)
        path = folder / "coverage.json" if folder.is_dir() else folder
        try:
            earlier = json.loads(path.read_text())["bins"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--merge {name}: not the output of make coverage ({exc})") from None
        tally.add({n: e["hits"] for n, e in earlier.items() if isinstance(e, dict)}, f"merged {name}", point=False)
        for n, e in earlier.items():
            if n in tally.first and e.get("first") and tally.first[n] == f"merged {name}":
                tally.first[n] = e["first"]
        if folder.is_dir():
            rtl += sorted((folder / "data").glob("*.rtl.dat"))
            fw += sorted((folder / "data").glob("*.fw.dat"))
            ucis += sorted((folder / "ucis").glob("*.xml"))
    return rtl, fw, ucis


def _code_coverage(out: Path, rtl_files: list[Path], fw_files: list[Path]) -> dict:
    from sim.coverage.fw import merge_fw_coverage
    from sim.coverage.rtl import merge_rtl_coverage

    result = {}
    if rtl_files:
        result["rtl"] = merge_rtl_coverage(rtl_files, out / "rtl")
    if fw_files:
        result["fw"] = merge_fw_coverage(fw_files, out / "fw")
    return result


def _points(part: dict) -> str:
    # Rounded down, as sim/coverage/rtl.py does: 99.97 % is not 100 %.
    pct = "-" if not part["total"] else f"{1000 * part['hit'] // part['total'] / 10:.1f} %"
    return f"{part['hit']}/{part['total']} | {pct}"


def _report(out: Path, tally: Tally, results: list, args, code: dict, closure: dict, prefix: int) -> str:
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
            "| block | line points | line % | toggle points | toggle % |",
            "|---|---:|---:|---:|---:|",
        ]
        for block, entry in code["rtl"]["blocks"].items():
            lines.append(f"| {block} | {_points(entry['line'])} | {_points(entry['toggle'])} |")
        lines += ["", "Per build, the uncovered lines, the annotated sources, rtl.info and HTML: `rtl/summary.md`.", ""]
    if "fw" in code:
        fw = code["fw"]
        lines += [
            "## Firmware code coverage (coverage.py with branches)",
            "",
            "| part | functions run | statements | branches |",
            "|---|---:|---:|---:|",
        ]
        for title, key in (
            ("functions the seeds define", "seed_total"),
            ("functions the seeds call", "seed_called_total"),
            ("the rest of firmware/", "rest_total"),
            ("all of firmware/", "firmware_total"),
        ):
            part = fw.get(key) or {}
            run = f"{part['functions_run']}/{part['functions']}" if "functions" in part else ""
            lines.append(
                f"| {title} | {run} | {part.get('statements_run')}/{part.get('statements')} "
                f"({part.get('statements_pct')} %) | {part.get('branches_taken')}/{part.get('branches')} "
                f"({part.get('branches_pct')} %) |"
            )
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
    lines += ["", "## Every bin", "", "| bin | what | hits | first hit by |", "|---|---|---|---|"]
    lines += [
        f"| `{n}` | {MODEL[n]} | {tally.hits[n]:,} | "
        f"{tally.first.get(n, '*unreachable*' if n in UNREACHABLE else '**not hit**')} |"
        for n in MODEL
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.coverage.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="random workloads after the named runs (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--unbiased", action="store_true", help="draw the random workloads without coverage direction")
    parser.add_argument(
        "--compare", action="store_true", help="run the seeds both unbiased and coverage-directed and plot both curves"
    )
    parser.add_argument(
        "--no-code",
        action="store_true",
        help="functional coverage only (no RTL or firmware code coverage, no coverage build)",
    )
    parser.add_argument(
        "--merge",
        nargs="*",
        default=[],
        metavar="DIR",
        help="output folders (or coverage.json files) of earlier runs to add",
    )
    parser.add_argument("--out", default="runs/coverage", help="output folder (default runs/coverage)")
    args = parser.parse_args(argv)
    if args.seeds < 0 or args.jobs < 1:
        print("sim.coverage.run: error: --seeds must be >= 0 and --jobs >= 1", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out).resolve()
    code = not args.no_code
    # Everything the workers run, imported here: they fork from this process, so a source file
    # edited during a long campaign cannot mix two versions in one worker.
    for module in ("sim.host.build", "sim.host.run", "sim.host.runner", "sim.coverage.ucis"):
        importlib.import_module(module)
    try:
        if code and shutil.which("verilator_coverage") is None:
            from sim.coverage.rtl import TOOL_MISSING

            raise EnvironmentProblem(TOOL_MISSING + " (or run with --no-code)")
        if importlib.util.find_spec("ucis") is None:  # pyucis: the UCIS export
            raise EnvironmentProblem("pyucis is missing: pip install -e '.[coverage]' (make coverage does)")
        for stale in ("runs", "data", "specs", "ucis", "rtl", "fw"):
            shutil.rmtree(out / stale, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        tally = Tally()
        rtl_files, fw_files, ucis_files = _merge_earlier(args.merge, tally)
        started = time.perf_counter()
        results: list[dict] = []
        prefix_jobs = _jobs(0, False, "", code)
        prefix = len(prefix_jobs)
        closure: dict[str, int | None] = {}
        curves: dict[str, list[int]] = {}
        if args.compare:
            _series(prefix_jobs, tally, out, args.jobs, code, results)
            common = tally.copy()
            for name, biased in (("unbiased", False), ("biased", True)):
                series = common.copy()
                jobs = _jobs(args.seeds, biased, f"{name} ", code)[prefix:]
                closure[name] = _series(jobs, series, out, args.jobs, code, results)
                curves[name] = series.curve
            for r in results[len(prefix_jobs) :]:  # the report's bins: the prefix and both series
                tally.add(r["hits"], r["label"], point=False)
        else:
            name = "unbiased" if args.unbiased else "biased"
            closure[name] = _series(
                _jobs(args.seeds, not args.unbiased, "", code), tally, out, args.jobs, code, results
            )
            curves[name] = tally.curve
        code_result = (
            _code_coverage(
                out,
                rtl_files + sorted((out / "data").glob("*.rtl.dat")),
                fw_files + sorted((out / "data").glob("*.fw.dat")),
            )
            if code
            else {}
        )
        from sim.coverage.ucis import merge_ucis

        merge_ucis(ucis_files + sorted((out / "ucis").glob("*.xml")), out / "coverage.ucis.xml")
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.coverage.run", exc)
    wall = time.perf_counter() - started
    closable = len(reachable())
    _plot(curves, prefix, len(MODEL), closable, out / "coverage.png", closure)
    result = {
        "bins": {
            n: {
                "description": MODEL[n],
                "hits": tally.hits[n],
                "first": tally.first.get(n),
                "status": "hit" if tally.hits[n] else "unreachable" if n in UNREACHABLE else "open",
            }
            for n in MODEL
        },
        "covered": tally.covered(),
        "total": len(MODEL),
        "reachable": closable,
        "open": tally.open(),
        "unreachable": UNREACHABLE,
        "seeds": args.seeds,
        "prefix_runs": prefix,
        "biased": not args.unbiased,
        "curves": curves,
        "closure_after_seeds": closure,
        "runs": [{k: r[k] for k in ("label", "ok", "error", "seconds")} for r in results],
        "code": {
            kind: {"total": part.get("total"), "blocks": part.get("blocks")}
            if kind == "rtl"
            else {key: part.get(key) for key in ("seed_total", "seed_called_total", "rest_total", "firmware_total")}
            for kind, part in code_result.items()
        },
        "wall_seconds": round(wall, 1),
    }
    atomic_write(out / "coverage.json", json.dumps(result, indent=2) + "\n")
    atomic_write(out / "coverage.md", _report(out, tally, results, args, code_result, closure, prefix))
    for name in tally.open():
        print(f"not hit: {name}: {MODEL[name]}")
    for name, at in closure.items():
        print(
            f"{name}: "
            + (f"closure after {at} random seeds" if at is not None else f"no closure in {args.seeds} random seeds")
        )
    if "rtl" in code_result:
        low = {
            b: e["line"]["percent"]
            for b, e in code_result["rtl"]["blocks"].items()
            if e.get("line", {}).get("percent") is not None and e["line"]["percent"] < 95
        }
        print(
            "RTL line coverage per block: "
            + (
                "every block at least 95 %"
                if not low
                else "below 95 %: " + ", ".join(f"{b} {p:.1f} %" for b, p in low.items())
            )
        )
    failed = sum(1 for r in results if not r["ok"])
    print(f"runs: {len(results)}, failed: {failed}, in {wall:.0f} s; outputs in {out}")
    print(
        f"functional coverage: {tally.covered()}/{len(MODEL)} bins ({100 * tally.covered() / len(MODEL):.0f} %), "
        f"{closable - len(tally.open())}/{closable} reachable"
    )
    return EXIT_OK if not tally.open() and not failed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
