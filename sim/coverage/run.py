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

The runs are ``sim/coverage/jobs.py``'s, run by ``tally.py``; ``summary.py`` writes the plot and the report.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

from sim.contract.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from sim.contract.outdir import atomic_write
from sim.coverage.func import MODEL, UNREACHABLE, reachable
from sim.coverage.jobs import NAMED_RUNS, REGISTER_MODULES, make_jobs
from sim.coverage.summary import render_report, write_plot
from sim.coverage.tally import Tally, run_series

__all__ = ["main", "NAMED_RUNS", "REGISTER_MODULES"]


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
        prefix_jobs = make_jobs(0, False, "", code)
        prefix = len(prefix_jobs)
        closure: dict[str, int | None] = {}
        curves: dict[str, list[int]] = {}
        if args.compare:
            run_series(prefix_jobs, tally, out, args.jobs, code, results)
            common = tally.copy()
            for name, biased in (("unbiased", False), ("biased", True)):
                series = common.copy()
                jobs = make_jobs(args.seeds, biased, f"{name} ", code)[prefix:]
                closure[name] = run_series(jobs, series, out, args.jobs, code, results)
                curves[name] = series.curve
            for r in results[len(prefix_jobs) :]:  # the report's bins: the prefix and both series
                tally.add(r["hits"], r["label"], point=False)
        else:
            name = "unbiased" if args.unbiased else "biased"
            closure[name] = run_series(
                make_jobs(args.seeds, not args.unbiased, "", code), tally, out, args.jobs, code, results
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
    write_plot(curves, prefix, len(MODEL), closable, out / "coverage.png", closure)
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
    atomic_write(out / "coverage.md", render_report(out, tally, results, args, code_result, closure, prefix))
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
