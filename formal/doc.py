"""Write the generated tables of docs/formal.md from a proof run.

    python -m formal.doc [--summary build/formal/summary.json] [--cross-check build/formal/cross-check.json]
                         [--solvers build/formal/solvers.json] [--doc docs/formal.md]

Each table replaces the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``:
``properties`` (every property of every block with its status at each size proven),
``mutants`` (which property caught each hardware mutant), ``solvers`` (the timing table)
and ``timings`` (time per proof). The prose around them is written by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from sim.reports.tables import markdown_table

from .blocks import BLOCKS, harness

__all__ = ["properties_table", "mutants_table", "solvers_table", "timings_table", "replace_section"]


def _size(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


def properties_table(summary: dict) -> str:
    by_block: dict[str, list[dict]] = {}
    for proof in summary["proofs"]:
        by_block.setdefault(proof["block"], []).append(proof)
    rows = []
    for block in BLOCKS:
        cls = harness(block)
        proofs = by_block.get(block, [])
        for prop, statement in cls.PROPERTIES.items():
            verdicts: dict[str, list[str]] = {}
            for proof in proofs:
                verdicts.setdefault(proof["status"].get(prop, "not run"), []).append(_size(proof["params"]))
            status = "; ".join(f"{v} at {' / '.join(sizes)}" for v, sizes in verdicts.items()) or "not run"
            kind = " (invariant)" if prop in cls.INVARIANTS else ""
            why = f" Bounded because {cls.BOUNDED[prop]}" if prop in cls.BOUNDED else ""
            rows.append([f"`{block}`", f"`{prop}`{kind}", status, f"{statement}.{why}"])
    return "\n".join(markdown_table(["block", "property", "status", "statement"], rows))


def mutants_table(cross: dict) -> str:
    rows = []
    for proof in cross["proofs"]:
        failed = [p for p, s in proof["status"].items() if s.startswith("FAILED")]
        caught = ", ".join(f"`{p}` ({proof['status'][p].lower()})" for p in failed) or "NOT CAUGHT"
        rows.append([f"`{proof['mutant']}`", f"`{proof['block']}` ({_size(proof['params'])})", caught])
    return "\n".join(markdown_table(["mutant", "block (size)", "caught by"], rows))


def solvers_table(result: dict) -> str:
    solvers = result["solvers"]
    rows = [
        [f"`{row['label']}`", *(f"{row['times'][s]:.1f} s" for s in solvers), "yes" if row["agree"] else "**no**"]
        for row in result["rows"]
    ]
    rows.append(["**total**", *(f"**{result['totals'][s]:.1f} s**" for s in solvers), ""])
    return "\n".join(markdown_table(["proof", *solvers, "agree"], rows))


def timings_table(summary: dict) -> str:
    rows = []
    for proof in summary["proofs"]:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in proof["seconds"].items())
        solver = proof.get("solver", "z3")
        time = f"{sum(proof['seconds'].values()):.1f} s" + (f" ({solver})" if solver != "z3" else "")
        rows.append([f"`{proof['label']}`", time, phases])
    rows.append([f"**whole run** ({summary['solver']})", f"**{summary['seconds']:.0f} s** wall", ""])
    return "\n".join(markdown_table(["proof", "time", "phases"], rows))


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no <!-- {name}:begin --> ... <!-- {name}:end --> section")
    return pattern.sub(lambda mo: mo.group(1) + body + "\n" + mo.group(2), text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="formal.doc", description=__doc__.split("\n\n")[0])
    p.add_argument("--summary", default="build/formal/summary.json")
    p.add_argument("--cross-check", default="build/formal/cross-check.json")
    p.add_argument("--solvers", default="build/formal/solvers.json")
    p.add_argument("--doc", default="docs/formal.md")
    a = p.parse_args(argv)
    doc = Path(a.doc)
    try:
        text = doc.read_text()
        for name, path, render in (
            ("properties", a.summary, properties_table),
            ("timings", a.summary, timings_table),
            ("mutants", a.cross_check, mutants_table),
            ("solvers", a.solvers, solvers_table),
        ):
            if Path(path).exists():
                text = replace_section(text, name, render(json.loads(Path(path).read_text())))
                print(f"formal.doc: {name} from {path}")
        doc.write_text(text)
    except (OSError, ValueError, KeyError) as exc:
        print(f"formal.doc: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
