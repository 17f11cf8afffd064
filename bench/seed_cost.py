"""Seed cost: instructions per call of each kernel function of the seed C source.

The seed ``lwkt_thread.c`` (v1.18 SMP, and v1.12 UP) is read from
``../shared/seeds`` at run time, its line-number prefixes stripped into a
temporary directory, and compiled with gcc against ``bench/seed_cost/stubs.h``
together with ``bench/seed_cost/harness.c``, which drives each function along
its common path many times. Every run of the harness goes under valgrind's
callgrind, collecting only inside the harness's ``measured()``; this module
reads the callgrind output file itself and takes, for each function, its self
cost (instructions executed in the function's own code, callees excluded)
divided by its call count. At one instruction per cycle that is the cycle
cost of the function's own computation. See ``bench/seed_cost/README.md``.

``python -m bench.seed_cost [--seeds DIR] [--out FILE] [--m32 | --m64]``
prints the table and writes ``bench/seed_cost.json``. Exit status 2, with one
line, when the seeds, gcc or valgrind are missing (or ``--m32`` cannot link).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.callgrind import parse_callgrind
from sim.reports.tables import markdown_table as markdown_lines
from sim.reports.tables import text_table as text_table_lines
from sim.contract.paths import PROJECT_ROOT

ROOT = Path(__file__).resolve().parent
PROJECT = PROJECT_ROOT
STUB_DIR = ROOT / "seed_cost"
DEFAULT_SEEDS = PROJECT.parent / "shared" / "seeds"
DEFAULT_OUT = ROOT / "seed_cost.json"
ITERATIONS = 1000


@dataclass(frozen=True)
class Seed:
    tag: str
    filename: str
    defines: tuple[str, ...]
    build: str


SEEDS = (
    Seed("v1.18", "lwkt_thread.c-v1.18-smp.txt", ("-DSMP",), "SMP, INVARIANTS"),
    Seed("v1.12", "lwkt_thread.c-v1.12-up.txt", ("-DSEED_V1_12",), "UP, INVARIANTS"),
)

#: Flags for the seed object. -fno-inline and no IPA cloning keep every seed
#: function a callgrind cost centre of its own under its own name (gcc 2.95's
#: -O, the 2003 compiler, did not inline across functions either); no sibling
#: calls (gcc 2.95 made none) so that every call is a call; frame pointers as
#: in the i386 kernels of the time; no stack protector, CET or vectorizer.
SEED_CFLAGS = (
    "-O2",
    "-g",
    "-fno-pic",
    "-fno-inline",
    "-fno-optimize-sibling-calls",
    "-fno-ipa-cp",
    "-fno-ipa-sra",
    "-fno-ipa-icf",
    "-fno-partial-inlining",
    "-fno-omit-frame-pointer",
    "-fno-stack-protector",
    "-fcf-protection=none",
    "-fno-tree-vectorize",
    "-Werror=implicit-function-declaration",
)
#: The harness: its own cost is never reported; bzero must stay a plain loop.
HARNESS_CFLAGS = (
    "-O2",
    "-g",
    "-fno-pic",
    "-fno-optimize-sibling-calls",
    "-fno-omit-frame-pointer",
    "-fno-stack-protector",
    "-fcf-protection=none",
    "-fno-tree-vectorize",
    "-fno-tree-loop-distribute-patterns",
    "-Wall",
)
COMMON_DEFINES = ("-D_KERNEL", "-DINVARIANTS")
#: Headers stubs.h itself takes from the host: never shadowed.
HOST_HEADERS = {"sys/queue.h", "stdarg.h", "stddef.h", "stdint.h"}

#: The table: (case, harness run, function whose self cost is reported).
CASES: tuple[tuple[str, str, str], ...] = (
    ("crit_enter", "crit_enter", "crit_enter"),
    ("crit_exit (no yield)", "crit_exit", "crit_exit"),
    ("_lwkt_enqueue", "schedule_self", "_lwkt_enqueue"),
    ("_lwkt_dequeue", "deschedule_self", "_lwkt_dequeue"),
    ("_lwkt_wantresched", "schedule/local", "_lwkt_wantresched"),
    ("lwkt_switch/pick", "switch/pick", "lwkt_switch"),
    ("lwkt_switch/pick+3 empty queues", "switch/pick+3stale", "lwkt_switch"),
    ("lwkt_switch/preempted", "switch/preempted", "lwkt_switch"),
    ("lwkt_switch/idle", "switch/idle", "lwkt_switch"),
    ("lwkt_schedule/local", "schedule/local", "lwkt_schedule"),
    ("lwkt_schedule/waitq", "schedule/waitq", "lwkt_schedule"),
    ("lwkt_schedule/remote", "schedule/remote", "lwkt_schedule"),
    ("lwkt_schedule_self", "schedule_self", "lwkt_schedule_self"),
    ("lwkt_deschedule_self", "deschedule_self", "lwkt_deschedule_self"),
    ("lwkt_deschedule/local", "deschedule/local", "lwkt_deschedule"),
    ("lwkt_yield", "yield", "lwkt_yield"),
    ("lwkt_yield_quick", "yield_quick", "lwkt_yield_quick"),
    ("lwkt_setpri/on runq", "setpri/runq", "lwkt_setpri"),
    ("lwkt_setpri/not queued", "setpri/off", "lwkt_setpri"),
    ("lwkt_preempt/hit", "preempt/hit", "lwkt_preempt"),
    ("lwkt_preempt/miss", "preempt/miss", "lwkt_preempt"),
    ("lwkt_block", "block", "lwkt_block"),
    ("lwkt_signal/0 waiters", "signal/0", "lwkt_signal"),
    ("lwkt_signal/1 waiter", "signal/1", "lwkt_signal"),
    ("lwkt_signal/4 waiters", "signal/4", "lwkt_signal"),
    ("lwkt_gettoken/local", "gettoken/local", "lwkt_gettoken"),
    ("lwkt_gettoken/remote", "gettoken/remote", "lwkt_gettoken"),
    ("lwkt_gettoken_remote", "gettoken/remote", "lwkt_gettoken_remote"),
    ("lwkt_trytoken/local", "trytoken/local", "lwkt_trytoken"),
    ("lwkt_reltoken/local", "reltoken/local", "lwkt_reltoken"),
    ("lwkt_regettoken/local", "regettoken/local", "lwkt_regettoken"),
    ("lwkt_gentoken/local", "gentoken/local", "lwkt_gentoken"),
    ("lwkt_inittoken", "inittoken", "lwkt_inittoken"),
    ("lwkt_send_ipiq", "send_ipiq", "lwkt_send_ipiq"),
    ("lwkt_wait_ipiq/done", "wait_ipiq/done", "lwkt_wait_ipiq"),
    ("lwkt_wait_ipiq/1 poll", "wait_ipiq/poll1", "lwkt_wait_ipiq"),
    ("lwkt_wait_ipiq/4 polls", "wait_ipiq/poll4", "lwkt_wait_ipiq"),
    ("lwkt_process_ipiq/3 empty sources", "process_ipiq/empty", "lwkt_process_ipiq"),
    ("lwkt_process_ipiq/1 empty source", "process_ipiq/empty-2cpu", "lwkt_process_ipiq"),
    ("lwkt_process_ipiq/1 message", "process_ipiq/1msg", "lwkt_process_ipiq"),
    ("lwkt_process_ipiq/4 messages", "process_ipiq/4msg", "lwkt_process_ipiq"),
    ("lwkt_alloc_thread/cache", "alloc_thread/cache", "lwkt_alloc_thread"),
    ("lwkt_alloc_thread/fresh", "alloc_thread/fresh", "lwkt_alloc_thread"),
    ("lwkt_init_thread", "init_thread", "lwkt_init_thread"),
    ("bzero(struct thread)", "init_thread", "stub_bzero"),
    ("lwkt_free_thread", "free_thread", "lwkt_free_thread"),
    ("lwkt_create", "create", "lwkt_create"),
    ("lwkt_exit", "exit", "lwkt_exit"),
    ("lwkt_acquire", "acquire", "lwkt_acquire"),
    ("lwkt_hold", "hold", "lwkt_hold"),
    ("lwkt_rele", "rele", "lwkt_rele"),
    ("lwkt_init_wait", "init_wait", "lwkt_init_wait"),
    ("kthread_create", "kthread_create", "kthread_create"),
    ("lwkt_gdinit", "gdinit", "lwkt_gdinit"),
    ("lwkt_setpri_self/on runq", "setpri_self", "lwkt_setpri_self"),
    ("lwkt_preempted_proc", "preempted_proc", "lwkt_preempted_proc"),
)

#: Cases whose function the harness does not call directly: no whole-call figure.
INNER = {"_lwkt_enqueue", "_lwkt_dequeue", "_lwkt_wantresched", "lwkt_gettoken_remote", "bzero(struct thread)"}

#: Marginal costs: (case, function, run with more, run with fewer, how many more).
DERIVED: tuple[tuple[str, str, str, str, int], ...] = (
    ("lwkt_switch/per empty queue", "lwkt_switch", "switch/pick+3stale", "switch/pick", 3),
    ("lwkt_signal/per extra woken thread", "lwkt_signal", "signal/4", "signal/1", 3),
    ("lwkt_wait_ipiq/per poll", "lwkt_wait_ipiq", "wait_ipiq/poll4", "wait_ipiq/poll1", 3),
    ("lwkt_process_ipiq/per empty source", "lwkt_process_ipiq", "process_ipiq/empty", "process_ipiq/empty-2cpu", 2),
    ("lwkt_process_ipiq/per message", "lwkt_process_ipiq", "process_ipiq/4msg", "process_ipiq/1msg", 3),
)

METHOD = (
    "Measured, not estimated. The seed lwkt_thread.c is compiled with gcc against stub headers "
    "(bench/seed_cost/stubs.h: structures of mid-2003 DragonFly, crit_enter/crit_exit as "
    "out-of-line functions, the seed's __inline run-queue helpers made noinline) and linked with "
    "bench/seed_cost/harness.c, which rebuilds a 4-cpu world in plain memory before every call, "
    "calls one seed function on one path, and checks the path was taken. valgrind's callgrind "
    "counts executed instructions only inside the harness's measured() "
    "(--collect-atstart=no --toggle-collect=measured). instructions_per_call is the function's "
    "self cost (its own instructions, callees excluded) divided by its call count, averaged over "
    "the iterations; at 1 instruction per cycle it is the function's cycle cost. External kernel "
    "services (panic, printf, vsnprintf, bzero, zalloc, kmem_alloc, pmap_init_thread, "
    "need_resched, splz, cpu_send_ipiq, globaldata_find, td_switch, ...) are trivial stubs in the "
    "harness object and are never part of a seed function's self cost. Caches, pipeline and "
    "memory latency are ignored."
)


class Unavailable(Exception):
    """A required input or tool is missing: exit status 2."""


class Failure(Exception):
    """The build or a harness run failed: exit status 1."""


# ---- the seed text ---------------------------------------------------------

_NUMBERED = re.compile(r"^(\d+)(?: (.*))?$")


def strip_seed(text: str, name: str = "lwkt_thread.c") -> str:
    """C source from a seed text: drop the header and each line's number.

    Every line after the header must be numbered 1, 2, 3, ... in order. The
    seed's indentation uses no-break spaces, which become plain spaces. A
    ``#line`` directive keeps the seed's own line numbers in debug info.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(r"1(?: |$)", line)), None)
    if start is None:
        raise Failure("seed: no line numbered 1")
    out = [f'#line 1 "{name}"']
    expect = 1
    for line in lines[start:]:
        if line == "" and expect > 1:
            continue  # the file's final newline, if any
        m = _NUMBERED.match(line)
        if m is None or int(m.group(1)) != expect:
            raise Failure(f"seed: expected line {expect}, found {line[:40]!r}")
        out.append((m.group(2) or "").replace("\u00a0", " "))
        expect += 1
    return "\n".join(out) + "\n"


def shadow_headers(source: str, inc: Path) -> list[str]:
    """Point every ``#include <...>`` of the seed at stubs.h; returns the names."""
    names = sorted(set(re.findall(r"^\s*#\s*include\s*<([^>]+)>", source, re.M)) - HOST_HEADERS)
    for name in names:
        path = inc / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('#include "stubs.h"\n')
    return names


# ---- tools -----------------------------------------------------------------


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def gcc_version() -> str:
    return _run(["gcc", "-dumpfullversion"]).stdout.strip()


def probe_m32(work: Path) -> str | None:
    """None when gcc can build and link a 32-bit program here, else why not."""
    src = work / "probe.c"
    src.write_text('#include <stdio.h>\nint main(void) { return puts("") < 0; }\n')
    r = _run(["gcc", "-m32", "-no-pie", str(src), "-o", str(work / "probe32")])
    if r.returncode != 0:
        last = [line for line in r.stderr.splitlines() if line.strip()]
        return last[-1] if last else "gcc -m32 failed"
    r = _run(["valgrind", "--tool=none", "-q", str(work / "probe32")])
    if r.returncode != 0:
        return "valgrind cannot run a 32-bit program: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


@dataclass
class Build:
    seed: Seed
    harness: Path
    seed_file: str  # the file name callgrind reports for the seed's code
    runs: list[tuple[str, str]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)


def build(seed: Seed, seeds_dir: Path, work: Path, arch_flags: tuple[str, ...]) -> Build:
    """Strip, shadow, compile and link one seed with the harness."""
    d = work / seed.tag
    inc = d / "inc"
    inc.mkdir(parents=True)
    c_name = f"lwkt_thread-{seed.tag}.c"
    source = strip_seed((seeds_dir / seed.filename).read_text(encoding="utf-8"), c_name)
    (d / c_name).write_text(source)
    shadow_headers(source, inc)
    defines = (*COMMON_DEFINES, *seed.defines)
    steps = [
        [
            "gcc",
            *arch_flags,
            *SEED_CFLAGS,
            *defines,
            "-DSEED_TU",
            f"-I{inc}",
            f"-I{STUB_DIR}",
            "-c",
            c_name,
            "-o",
            "seed.o",
        ],
        [
            "gcc",
            *arch_flags,
            *HARNESS_CFLAGS,
            *defines,
            f"-I{STUB_DIR}",
            "-c",
            str(STUB_DIR / "harness.c"),
            "-o",
            "harness.o",
        ],
        ["gcc", *arch_flags, "-no-pie", "seed.o", "harness.o", "-o", "harness"],
    ]
    for cmd in steps:
        r = _run(cmd, cwd=d)
        if r.returncode != 0:
            raise Failure(f"{seed.tag}: {' '.join(cmd[:1] + cmd[-3:])} failed:\n{r.stderr}")
    b = Build(seed, d / "harness", c_name)
    listing = _run([str(b.harness), "--list"])
    if listing.returncode != 0:
        raise Failure(f"{seed.tag}: harness --list failed: {listing.stderr}")
    b.runs = [tuple(line.split("\t", 1)) for line in listing.stdout.splitlines() if line]
    sizes = _run([str(b.harness), "--sizes"]).stdout
    b.sizes = {k: int(v) for k, v in (line.split("\t") for line in sizes.splitlines() if line)}
    return b


def measure(b: Build, run: str, iterations: int, out_dir: Path) -> dict:
    """One harness run under callgrind: per-function self Ir and calls."""
    out = out_dir / f"callgrind.{run.replace('/', '_')}.out"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=measured",
        f"--callgrind-out-file={out}",
        str(b.harness),
        run,
        str(iterations),
    ]
    r = _run(cmd)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        raise Failure(f"{b.seed.tag} {run}: harness exited {r.returncode}:\n{tail}")
    funcs = parse_callgrind(out)
    kernel_files = {b.seed_file, "stubs.h"}
    per_iter = {
        name: round(v["ir"] / iterations, 3)
        for name, v in sorted(funcs.items(), key=lambda kv: -kv[1]["ir"])
        if v["ir"]
    }
    kernel = sum(v["ir"] for v in funcs.values() if v["file"] in kernel_files)
    return {
        "iterations": iterations,
        "functions": funcs,
        "per_iteration": per_iter,
        "kernel_per_iteration": round(kernel / iterations, 3),
    }


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 2)


def collect(b: Build, iterations: int, jobs: int) -> dict:
    """Run every harness run of one build and assemble its cases."""
    out_dir = b.harness.parent
    run_names = [name for name, _ in b.runs]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = dict(zip(run_names, pool.map(lambda r: measure(b, r, iterations, out_dir), run_names), strict=True))

    cases: dict[str, dict] = {}
    not_measured: dict[str, str] = {}
    for case, run, func in CASES:
        if run not in results:
            not_measured[case] = f"no such path in {b.seed.tag} (run {run!r} not built)"
            continue
        f = results[run]["functions"].get(func)
        if not f or not f["calls"]:
            not_measured[case] = f"{func} not called in run {run!r} of {b.seed.tag}"
            continue
        cases[case] = {
            "function": func,
            "instructions_per_call": _number(f["ir"] / f["calls"]),
            "calls": f["calls"],
            "run": run,
        }
        if case not in INNER:
            # everything the call executes in the seed object (its callees
            # crit_enter, _lwkt_enqueue, ... included), the stubs excluded
            cases[case]["with_seed_callees"] = _number(results[run]["kernel_per_iteration"])
        if f["ir"] % f["calls"]:
            cases[case]["note"] = "not the same count on every call (average)"
    for case, func, more, fewer, k in DERIVED:
        a, z = results.get(more), results.get(fewer)
        if a is None or z is None:
            not_measured[case] = f"no such path in {b.seed.tag}"
            continue
        fa, fz = a["functions"][func], z["functions"][func]
        per = (fa["ir"] / fa["calls"] - fz["ir"] / fz["calls"]) / k
        total = (a["kernel_per_iteration"] - z["kernel_per_iteration"]) / k
        cases[case] = {
            "function": func,
            "instructions_per_call": _number(per),
            "calls": None,
            "derived": f"({more} - {fewer}) / {k}",
            "with_seed_callees": _number(total),
        }
    runs = {
        name: {
            "what": what,
            "iterations": results[name]["iterations"],
            "kernel_per_iteration": _number(results[name]["kernel_per_iteration"]),
            "per_iteration": {k: _number(v) for k, v in results[name]["per_iteration"].items()},
        }
        for name, what in b.runs
    }
    return {
        "seed": b.seed.tag,
        "seed_file": b.seed.filename,
        "build": b.seed.build,
        "sizes": b.sizes,
        "cases": cases,
        "not_measured": not_measured,
        "runs": runs,
    }


# ---- output ----------------------------------------------------------------


def table_rows(report: dict) -> list[tuple[str, ...]]:
    """Case, function, then self and with-callees figures for v1.18 and v1.12."""
    new, old = report["cases"], report.get("v1.12", {}).get("cases", {})
    order = [c for c, _, _ in CASES] + [c for c, *_ in DERIVED]

    def cells(cases: dict, case: str) -> tuple[str, str]:
        c = cases.get(case)
        if c is None:
            return "-", "-"
        return str(c["instructions_per_call"]), str(c.get("with_seed_callees", ""))

    return [
        (case, (new.get(case) or old.get(case))["function"], *cells(new, case), *cells(old, case))
        for case in order
        if case in new or case in old
    ]


HEADER = ("case", "function", "v1.18 self", "v1.18 +callees", "v1.12 self", "v1.12 +callees")


def text_table(report: dict) -> str:
    return "\n".join(text_table_lines(HEADER, table_rows(report), align="llrrrr", rule=True))


def markdown_table(report: dict) -> str:
    rows = [[r[0], f"`{r[1]}`", *r[2:]] for r in table_rows(report)]
    return "\n".join(markdown_lines(HEADER, rows, align="llrrrr"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.seed_cost", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="directory of the seed texts")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    arch = ap.add_mutually_exclusive_group()
    arch.add_argument("--m32", action="store_true", help="require i386 (-m32); no fall-back")
    arch.add_argument("--m64", action="store_true", help="build for x86-64 without trying -m32")
    ap.add_argument("--iterations", type=int, default=ITERATIONS, help="calls per run")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel valgrind runs")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build and keep the sources, harness and callgrind files in DIR (new or empty)",
    )
    args = ap.parse_args(argv)

    try:
        for tool in ("gcc", "valgrind"):
            if shutil.which(tool) is None:
                raise Unavailable(f"{tool} not found on PATH")
        for seed in SEEDS:
            if not (args.seeds / seed.filename).is_file():
                raise Unavailable(f"seed {seed.filename} not found in {args.seeds}")
        if args.keep and args.keep.exists() and any(args.keep.iterdir()):
            raise Failure(f"--keep {args.keep}: not empty")
        with tempfile.TemporaryDirectory(prefix="seed_cost.") as tmp:
            work = Path(tmp)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                work = args.keep.resolve()
            why_not_32 = None if args.m64 else probe_m32(work)
            if args.m32 and why_not_32:
                raise Unavailable(f"-m32 unavailable: {why_not_32}")
            use_32 = not args.m64 and why_not_32 is None
            arch_flags = ("-m32",) if use_32 else ("-m64",)
            report: dict = {
                "method": METHOD,
                "compiler": f"gcc {gcc_version()} {' '.join(arch_flags)} "
                f"{' '.join(SEED_CFLAGS)} {' '.join(COMMON_DEFINES)}",
                "harness_compiler": f"gcc {gcc_version()} {' '.join(arch_flags)} {' '.join(HARNESS_CFLAGS)}",
                "arch": "i386" if use_32 else "x86-64",
                "arch_note": (
                    "-m32 built and ran"
                    if use_32
                    else "-m64 requested"
                    if args.m64
                    else f"-m32 unavailable: {why_not_32}"
                ),
                "valgrind": _run(["valgrind", "--version"]).stdout.strip(),
                "iterations": args.iterations,
            }
            for seed in SEEDS:
                b = build(seed, args.seeds, work, arch_flags)
                result = collect(b, args.iterations, max(1, args.jobs))
                if seed.tag == "v1.18":
                    report.update(result)
                else:
                    report[seed.tag] = result
    except Unavailable as e:
        print(f"seed_cost: {e}", file=sys.stderr)
        return 2
    except Failure as e:
        print(f"seed_cost: {e}", file=sys.stderr)
        return 1

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"{report['compiler']}\ninstructions per call, {args.iterations} calls per run: "
        f"self = the function's own instructions; +callees = everything the call runs in the "
        f"seed object (crit_*, _lwkt_* ...), stubs excluded\n"
    )
    print(markdown_table(report) if args.markdown else text_table(report))
    for case, why in report["not_measured"].items():
        print(f"not measured in v1.18: {case}: {why}")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
