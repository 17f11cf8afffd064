"""``make coverage``: a stress set run with all three coverage measures, merged into one report.

    python -m sim.campaigns.coverage_run [--seeds N] [--jobs J] [--unbiased] [--compare] [--no-code]
                                         [--merge DIR ...] [--db FILE] [--out DIR]

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

The random workloads are **coverage-directed** unless ``--unbiased``: they run in
waves of ``--jobs`` seeds, and each wave's draws lean towards the bins still open
after the waves before it (``func.STIMULUS``), so the curve is the same however the
runs are timed. ``--compare`` runs the seeds both ways and plots the two curves.
``--merge`` adds the output folders of earlier runs (their bins and code coverage
data). Outputs in ``--out``: ``coverage.json``, ``coverage.md``, ``coverage.png``, the
folders above, the drawn workloads under ``specs/``, and under ``runs/`` the failing
runs and every run's code coverage data (``runs/data``). Exit 0 when every reachable
bin was hit and every run passed, 1 otherwise, 2 for bad options, 3 when a tool is
missing, 130/143 when interrupted.

Every run is a run of the campaign ``coverage`` on the campaign engine (a Dask
LocalCluster of ``--jobs`` workers), recorded in the results database (``--db``;
``lwkt-soc results --campaign coverage``). Unlike other campaigns it runs its whole
set every time: the code coverage data lives in the output folder, not in the
database. The runs are ``coverage_jobs.py``'s; ``sim/coverage/summary.py`` writes the
plot and the report.
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

from sim.contract.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_USAGE,
    EnvironmentProblem,
    UsageError,
    report_error,
)
from sim.contract.outdir import atomic_write
from sim.coverage.func import MODEL, UNREACHABLE, reachable
from sim.campaigns.campaign import Campaign, Expansion
from sim.campaigns.engine import DASK_CONFIG, open_engine, require_dask
from sim.campaigns.regress import DEFAULT_DB
from sim.campaigns.tasks import CODE_COVERAGE
from sim.campaigns.coverage_jobs import CAMPAIGN, NAMED_RUNS, REGISTER_MODULES, CoverageJob, job_spec, make_jobs
from sim.coverage.summary import render_report, write_plot
from sim.coverage.tally import Tally

__all__ = ["main", "run_series", "Series", "NAMED_RUNS", "REGISTER_MODULES"]


def _open_engine(workers: int):
    """A LocalCluster of ``workers`` for every wave of the series (sim/campaigns/engine.py)."""
    import dask
    import distributed  # noqa: F401  (its defaults must be loaded before they are overridden)

    with dask.config.set(DASK_CONFIG):
        return open_engine(workers=workers)


def _write_ucis(r: dict, out: Path) -> None:
    """One run's bins as UCIS XML, ``ucis/<label>.xml``."""
    if not r["hits"]:
        return
    from sim.coverage.ucis import write_ucis

    spec = r["spec"]
    seed = spec.run.seed if spec.run.kind == "scenario" else None
    write_ucis(
        r["hits"],
        MODEL,
        out / "ucis" / f"{r['label'].replace(' ', '-')}.xml",
        test_name=r["label"],
        seed=seed,
        ok=r["ok"],
    )


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
            for data in (folder / "runs" / CODE_COVERAGE, folder / "data"):  # "data": before campaigns ran it
                rtl += sorted(data.glob("*.rtl.dat"))
                fw += sorted(data.glob("*.fw.dat"))
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
    parser = argparse.ArgumentParser(prog="python -m sim.campaigns.coverage_run", description=__doc__.splitlines()[0])
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
    parser.add_argument(
        "--db",
        default=str(DEFAULT_DB),
        help=f"the results database (default {DEFAULT_DB}, the one lwkt-soc results reads)",
    )
    parser.add_argument("--out", default="runs/coverage", help="output folder (default runs/coverage)")
    args = parser.parse_args(argv)
    if args.seeds < 0 or args.jobs < 1:
        print("sim.campaigns.coverage_run: error: --seeds must be >= 0 and --jobs >= 1", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out).resolve()
    code = not args.no_code
    engine = None
    try:
        if code and shutil.which("verilator_coverage") is None:
            from sim.coverage.rtl import TOOL_MISSING

            raise EnvironmentProblem(TOOL_MISSING + " (or run with --no-code)")
        if importlib.util.find_spec("ucis") is None:  # pyucis: the UCIS export
            raise EnvironmentProblem("pyucis is missing: pip install -e '.[coverage]' (make coverage does)")
        require_dask()
        for stale in ("runs", "data", "specs", "ucis", "rtl", "fw"):
            shutil.rmtree(out / stale, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        tally = Tally()
        rtl_files, fw_files, ucis_files = _merge_earlier(args.merge, tally)
        started = time.perf_counter()
        engine = _open_engine(args.jobs)
        where = Series(engine.client, Path(args.db).resolve(), out, wave=args.jobs)
        results: list[dict] = []
        prefix_jobs = make_jobs(0, False, "", code)
        prefix = len(prefix_jobs)
        closure: dict[str, int | None] = {}
        curves: dict[str, list[int]] = {}
        if args.compare:
            run_series(prefix_jobs, tally, where, results)
            common = tally.copy()
            for name, biased in (("unbiased", False), ("biased", True)):
                series = common.copy()
                jobs = make_jobs(args.seeds, biased, f"{name} ", code)[prefix:]
                closure[name] = run_series(jobs, series, where, results)
                curves[name] = series.curve
            for r in results[len(prefix_jobs) :]:  # the report's bins: the prefix and both series
                tally.add(r["hits"], r["label"], point=False)
        else:
            name = "unbiased" if args.unbiased else "biased"
            closure[name] = run_series(make_jobs(args.seeds, not args.unbiased, "", code), tally, where, results)
            curves[name] = tally.curve
        engine.close()
        engine = None
        for r in results:
            _write_ucis(r, out)
        data = out / "runs" / CODE_COVERAGE
        code_result = (
            _code_coverage(
                out,
                rtl_files + sorted(data.glob("*.rtl.dat")),
                fw_files + sorted(data.glob("*.fw.dat")),
            )
            if code
            else {}
        )
        from sim.coverage.ucis import merge_ucis

        merge_ucis(ucis_files + sorted((out / "ucis").glob("*.xml")), out / "coverage.ucis.xml")
    except (Interrupted, KeyboardInterrupt) as stop:
        print(f"interrupted: the runs so far are recorded in {args.db}; run make coverage again for the report")
        return stop.code if isinstance(stop, Interrupted) else EXIT_SIGINT
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.campaigns.coverage_run", exc)
    finally:
        if engine is not None:
            engine.close()
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
    print(f"runs: {len(results)}, failed: {failed}, in {wall:.0f} s; outputs in {out}; every run in {args.db}")
    print(
        f"functional coverage: {tally.covered()}/{len(MODEL)} bins ({100 * tally.covered() / len(MODEL):.0f} %), "
        f"{closable - len(tally.open())}/{closable} reachable"
    )
    return EXIT_OK if not tally.open() and not failed else EXIT_FAILED


class Series:
    """Where make coverage's runs go: the Dask client, the results database, the output folder; ``wave``
    coverage-directed runs are drawn at a time (from the bins open when their wave starts)."""

    def __init__(self, client, db_path: Path, out: Path, wave: int):
        self.client, self.db_path, self.out, self.wave = client, db_path, out, max(1, wave)


class Interrupted(Exception):
    """The campaign was stopped by SIGINT or SIGTERM; ``code`` is its exit code."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def run_series(jobs: list[CoverageJob], tally: Tally, where: Series, results: list) -> int | None:
    """Run ``jobs`` on the campaign engine, adding their bins to ``tally`` in the jobs' order (so the curve
    does not depend on timing). Jobs that draw nothing run together; coverage-directed ones in waves of
    ``where.wave``, each drawing from the bins open after the waves before it. Every run is recorded as a
    run of the campaign ``coverage``. Returns the number of random seeds after which every reachable bin
    was hit (None: not reached)."""
    from sim.campaigns.regress import run_campaign

    closed_at = None
    seeds_done = 0
    start = 0
    while start < len(jobs):
        end = start + 1
        limit = where.wave if jobs[start].biased else len(jobs)
        while end < len(jobs) and end - start < limit and jobs[end].biased == jobs[start].biased:
            end += 1
        wave = jobs[start:end]
        start = end
        open_bins = tally.open()
        specs = [job_spec(job, open_bins, where.out / "specs") for job in wave]
        outcome = run_campaign(
            Campaign(name=CAMPAIGN, shrink=False, keep="failed", coverage=True),
            expansion=Expansion(specs, []),
            db_path=where.db_path,
            folder=where.out / "runs",
            client=where.client,
            progress=False,
            rerun=True,  # the runs' code coverage data is in this output folder, not in the database
            say=lambda text: None,
        )
        if outcome.exit_code not in (EXIT_OK, EXIT_FAILED):
            raise Interrupted(outcome.exit_code)
        recorded = {r["run_key"]: r for r in outcome.results}
        for job, spec in zip(wave, specs, strict=True):
            r = _result(job, recorded.get(spec.run_key(outcome.revision.digest)), spec)
            results.append(r)
            tally.add(r["hits"], r["label"])
            if job.run.scenario == "random":
                seeds_done += 1
                if closed_at is None and not tally.open():
                    closed_at = seeds_done
            status = "ok" if r["ok"] else f"FAILED{': ' + r['error'] if r['error'] else ''}"
            print(
                f"  {r['label']:44} {tally.covered():4}/{len(MODEL)} bins  {r['seconds'] or 0:6.1f} s  {status}",
                flush=True,
            )
    return closed_at


def _result(job: CoverageJob, recorded: dict | None, spec) -> dict:
    """What make coverage keeps of one run: its bins and counts, whether it passed, its folder when it failed."""
    if recorded is None:  # never recorded: the engine lost it
        return {"label": job.label, "hits": {}, "ok": False, "error": "no result", "seconds": None, "spec": spec}
    hits = (recorded["counters"] or {}).get("bin_hits") or {name: 1 for name in recorded["bins"]}
    ok = recorded["status"] == "pass"
    error = None if ok else recorded["panic"] or ", ".join(recorded["failed"]) or recorded["outcome"]
    return {
        "label": job.label,
        "hits": hits,
        "ok": ok,
        "error": error,
        "seconds": recorded["seconds"],
        "out_dir": recorded["out_dir"],
        "spec": spec,
    }


if __name__ == "__main__":
    sys.exit(main())
