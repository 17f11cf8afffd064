"""``python -m sim.mutation``: list the source mutants, count them, or show one.

    python -m sim.mutation [--root DIR] [--files GLOB ...] [--count | --show ID]

Without ``--files`` the kernel and RTL modules of ``sim/mutation/targets.py`` are mutated (its
docstring says why the others are not). A listing has one line per mutant: its id, the enclosing
function, and the original text and its replacement, on one line each. ``--count`` gives the
number per file and per operator; ``--show ID`` the diff of one mutant. Bad input (an unknown or
stale id, globs that match no file, a file that does not parse) is one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections import Counter
from pathlib import Path

from .operators import OPERATORS, Mutant, generate, mutated_source, parse_id
from .targets import default_files, select_files

__all__ = ["main", "PROG"]

PROG = "python -m sim.mutation"
#: The folder that holds firmware/, hdl/ and sim/ (this file is sim/mutation/cli.py).
DEFAULT_ROOT = Path(__file__).resolve().parents[2]
_SHOWN = 60  # characters of an original or a replacement in a listing


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as for every other bad input
        raise _UsageError(message)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _listing(mutants: list[Mutant]) -> list[str]:
    return [f"{m.id}  {m.function}  {_one_line(m.original)} → {_one_line(m.replacement)}" for m in mutants]


def _counts(mutants: list[Mutant]) -> list[str]:
    """Mutants per file, then per operator with one column per top-level folder."""
    per_file = Counter(m.file for m in mutants)
    folders = sorted({m.file.split("/")[0] for m in mutants})
    table = Counter((m.operator, m.file.split("/")[0]) for m in mutants)
    width = max([len(f) for f in per_file] + [len(o) for o in OPERATORS] + [8])
    lines = [f"{'file':<{width}}  mutants"]
    lines += [f"{f:<{width}}  {per_file[f]:>7}" for f in sorted(per_file)]
    lines += ["", f"{'operator':<{width}}" + "".join(f"  {d:>8}" for d in folders) + f"  {'total':>8}"]
    for operator in OPERATORS:
        cells = [table[operator, d] for d in folders]
        lines.append(f"{operator:<{width}}" + "".join(f"  {c:>8}" for c in cells) + f"  {sum(cells):>8}")
    totals = [sum(table[o, d] for o in OPERATORS) for d in folders]
    lines.append(f"{'total':<{width}}" + "".join(f"  {c:>8}" for c in totals) + f"  {sum(totals):>8}")
    return lines


def _show(mutant_id: str, root: Path) -> list[str]:
    file = parse_id(mutant_id)[0]
    mutated = mutated_source(mutant_id, root)
    original = (root / file).read_text(encoding="utf-8")
    found = next(m for m in generate(root / file, root) if m.id == mutant_id)
    header = [
        f"mutant   {mutant_id}",
        f"operator {found.operator}: {OPERATORS[found.operator]}",
        f"function {found.function}",
    ]
    diff = difflib.unified_diff(original.splitlines(), mutated.splitlines(), f"a/{file}", f"b/{file}", n=3, lineterm="")
    return header + list(diff)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog=PROG, description="List, count or show the source mutants of the kernel and the RTL.")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the folder holding firmware/ and hdl/")
    parser.add_argument("--files", nargs="+", metavar="GLOB", help="files to mutate, relative to the root")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--count", action="store_true", help="mutants per file and per operator")
    what.add_argument("--show", metavar="ID", help="the diff of one mutant")
    try:
        args = parser.parse_args(argv)
        root = args.root.resolve()
        if args.show:
            lines = _show(args.show, root)
        else:
            files = select_files(root, args.files) if args.files else default_files(root)
            if not files:
                raise _UsageError(
                    f"no Python file matches {' '.join(args.files or ['the default files'])} under {root}"
                )
            mutants = [m for path in files for m in generate(path, root)]
            lines = _counts(mutants) if args.count else _listing(mutants)
    except (_UsageError, ValueError, SyntaxError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        print("\n".join(lines), flush=True)
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
