"""Measure the SMT solvers against each other on the same proofs.

    python -m formal.solvers [BLOCK ...] [--quick] [--solvers z3,boolector,bitwuzla]

Every proof (BMC, induction, covers) runs once per solver, one after the other on the
same machine. It prints a table of wall times per proof and solver (yosys-smtbmc with the
solver; the conversion to SMT-LIB, the same for all, is left out), checks that the
solvers agree on every property and cover, and writes build/formal/solvers.json.
Exit codes: 0 the solvers agree; 1 they disagree; 2 usage error; 3 a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .blocks import BLOCKS, harness
from .prove import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EXIT_USAGE, SOLVERS, ToolMissing, prove

__all__ = ["compare", "main"]


def compare(blocks, solvers, *, quick=True, root="build/formal/solvers", log=print) -> dict:
    """``{"rows": [{label, times: {solver: s}, agree}], "totals": {solver: s}}``."""
    rows, totals = [], {s: 0.0 for s in solvers}
    for block in blocks:
        cls = harness(block)
        for size in cls.QUICK if quick else cls.SIZES:
            times, verdicts = {}, {}
            for solver in solvers:
                proof = prove(block, size, root=root, solver=solver)
                # The solver's share: every phase but the conversion to SMT-LIB (the same for all).
                times[solver] = sum(t for phase, t in proof.seconds.items() if phase != "compile")
                totals[solver] += times[solver]
                verdicts[solver] = (proof.status, proof.covers)
            agree = all(v == verdicts[solvers[0]] for v in verdicts.values())
            rows.append({"label": cls.label(size), "times": times, "agree": agree})
            log(
                f"{cls.label(size):28s} "
                + "  ".join(f"{s} {t:6.1f}s" for s, t in times.items())
                + ("" if agree else "  DISAGREE")
            )
    return {"solvers": list(solvers), "rows": rows, "totals": totals}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="formal.solvers", description=__doc__.split("\n\n")[0])
    p.add_argument("blocks", nargs="*", metavar="BLOCK", help="default all")
    p.add_argument("--quick", action="store_true", help="each block's QUICK sizes only")
    p.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated (default all three)")
    p.add_argument("--out", default="build/formal/solvers.json", metavar="FILE")
    a = p.parse_args(argv)
    solvers = [s for s in a.solvers.split(",") if s]
    bad = [b for b in a.blocks if b not in BLOCKS] + [s for s in solvers if s not in SOLVERS]
    if bad or not solvers:
        print(
            f"formal.solvers: error: unknown block or solver {bad[0] if bad else ''!r}; blocks: "
            f"{', '.join(BLOCKS)}; solvers: {', '.join(SOLVERS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        result = compare(a.blocks or list(BLOCKS), solvers, quick=a.quick)
    except ToolMissing as exc:
        print(f"formal.solvers: error: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    print("total                        " + "  ".join(f"{s} {t:6.1f}s" for s, t in result["totals"].items()))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1))
    return EXIT_OK if all(r["agree"] for r in result["rows"]) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
