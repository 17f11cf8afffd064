"""Source mutants for mutation qualification: every mutant of a fixed set of operators over one
Python module, found on its AST and applied as a text replacement of one node's source span.

The same mutator serves the kernel (``firmware/``) and the RTL (``hdl/``: Amaranth is Python, and
an RTL mutant is a change of the elaboration code). :data:`OPERATORS` names the operators; a
mutant's id is ``<file>:<line>:<col>:<operator>:<k>:<digest>`` (file relative to the root, line
1-based, col 0-based in characters, ``k`` numbers the mutants of one operator at one position,
``digest`` is 8 hex digits of the SHA-256 of the original text, so that an id made before an edit
of its line is refused rather than applied to other code).

Every mutant's file compiles and has the same number of lines as the original, each line after
the mutated span keeping its number (tracebacks and coverage still point at the right lines).

What is never mutated, and why:

- docstrings and every string constant, f-strings included: text is not behaviour here (messages,
  names); changing it mostly breaks name lookups, a crash that says nothing about the suite.
- ``import`` statements and ``__all__``: the module's interface, not its behaviour; a mutant
  there fails at import, before any test can tell.
- type annotations, decorators, class bases: annotations are not evaluated (``from __future__
  import annotations``); decorators and bases are wiring, whose mutants fail at import.
- ``raise`` statements: an error path's exception and message; the condition that leads there
  is mutated where it is tested.
- ``assert`` statements, the kernel's ``kassert(...)`` calls, and its ``event(...)`` and
  ``tracepoint(...)`` calls (with those methods' bodies): the kernel's own checks and the trace
  records and hooks that feed the checkers are part of the verification (docs/mutants.md's kill
  suite), not of the design under test. A mutant there would test the checks, not the design.
- the planted bugs of ``firmware/bugs.py``: a ``system.bug(...)`` call (or a local name bound from
  one), any expression that contains it, and the branch of an ``if`` or a ternary that runs only
  while the bug is on. They are another mutation mechanism, already in the catalogue; the code
  that runs with the bug off (``if not system.bug(...):``'s body) is mutated like any other.
  ``System.bug`` itself is skipped for the same reason.
- the hardware catalogue ``hdl/mutants.py`` (not a default file), and in ``hdl/`` every
  comparison with ``mutant`` with the branch that runs only for a catalogue mutant: same reason.
- ``__repr__`` and ``__str__``: printable forms, which no check reads.
- ``if TYPE_CHECKING:`` and ``if __name__ == "__main__":`` blocks: never run by a test.
- module-level constants and tables are *kept*: in the default files they are the design's
  parameters (priorities, flag bits, IPI function ids, field widths); the tables that hold only
  names (counters, tracepoints, probes) are strings and make no mutant. A caveat: a checker that
  imports a mutated constant sees the mutated value too, so such a mutant can survive because the
  oracle moved with the design.

Rules that keep mutants meaningful rather than crashes:

- ``int-plus-one``/``int-minus-one`` apply to every integer constant, 0 and 1 included (a 0 is as
  often a boundary as a false), but never to ``True``/``False``, which ``return-bool`` covers.
- a ``+``, ``-``, ``*`` next to a string or sequence display is not swapped (join and repeat);
  Amaranth's ``m.d.sync += ...`` adds statements and is not swapped either (its deletion is).
- ``delete-statement`` does not delete the only certain binding of a local name before the
  statement, nor, in an initializer (``__init__``, ``__post_init__``, any method with ``init`` in
  its name: ``init_ipiq``, ``lwkt_gdinit``), the first assignment of a ``self`` attribute: those
  mutants would only raise NameError or AttributeError.
- a ``return`` is never deleted: ``return-none`` changes what it gives back, and without it the
  function would mostly run off its end and give ``None`` all the same.
- ``return True``/``False`` get ``return-bool`` only (``return None`` would be falsy as well);
  ``return None`` and a bare ``return`` get nothing.
- ``negate-condition`` skips a test that is already ``not x`` (``drop-not`` gives ``x``), and an
  ``if`` whose body only feeds the checks (``if self._tracepoints: self.tracepoint(...)``);
  ``negate-rtl-condition`` skips ``m.If(~x)`` (``drop-invert`` gives ``m.If(x)``).
- ``swap-args`` skips a string beside a non-string (a name or a message next to a value) and the
  builtins other than ``range``, ``pow``, ``divmod`` and ``round`` (``isinstance``, ``map``: a
  TypeError; ``max``, ``min``: the same value).
- ``index-plus-one``/``minus-one`` apply to computed indices and slice bounds; constant ones
  already get ``int-plus-one``/``minus-one``.
"""

from __future__ import annotations

import ast
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .text import SourceText
from .walker import Site, find_sites

__all__ = ["OPERATORS", "Mutant", "generate", "mutated_source", "parse_id", "apply"]

#: name -> what it does, in the order mutants at one position are listed.
OPERATORS: dict[str, str] = {
    "delete-statement": "a call statement, an assignment or an augmented assignment becomes `pass`",
    "return-none": "`return <expr>` becomes `return None`",
    "return-bool": "`return True` and `return False` swap",
    "negate-condition": "the test of an `if`, `elif`, `while` or ternary becomes `not (test)`",
    "negate-rtl-condition": "Amaranth's `with m.If(c)` / `m.Elif(c)` becomes `m.If(c == 0)`",
    "swap-args": "the first two positional arguments of a call swap (when they differ)",
    "bool-swap": "`and` and `or` swap (every operator of one chain)",
    "drop-not": "`not x` becomes `x`",
    "drop-invert": "`~x` becomes `x` (a signal's NOT in Amaranth, a mask's complement)",
    "compare-boundary": "`<` and `<=` swap, `>` and `>=` swap",
    "compare-direction": "`<` and `>` swap, `<=` and `>=` swap",
    "compare-negate": "`==` and `!=` swap, `is` and `is not`, `in` and `not in`",
    "arith-swap": "`+` and `-` swap, `*` becomes `//`, `//` becomes `*`, `%` becomes `//` (also in `+=` ...)",
    "bitwise-swap": "`&` and `|` swap, `^` becomes `|` (also in `&=` ...)",
    "shift-swap": "`<<` and `>>` swap (also in `<<=` ...)",
    "int-plus-one": "an integer constant plus one, in its own base (`0xFF` becomes `0x100`)",
    "int-minus-one": "an integer constant minus one",
    "index-plus-one": "a computed subscript index or slice bound plus one (`a[i]` becomes `a[i + 1]`)",
    "index-minus-one": "a computed subscript index or slice bound minus one",
}
_ORDER = {name: i for i, name in enumerate(OPERATORS)}


@dataclass(frozen=True)
class Mutant:
    """One mutant: where (``line`` 1-based, ``col`` 0-based in characters, the end exclusive),
    which operator, the source text it replaces and the text that replaces it, and the qualified
    name of the enclosing ``def`` or class (``"<module>"`` outside both)."""

    id: str
    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    operator: str
    original: str
    replacement: str
    function: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def parse_id(mutant_id: str) -> tuple[str, int, int, str, int, str]:
    """(file, line, col, operator, k, digest) of an id; ValueError if it is not one."""
    parts = mutant_id.rsplit(":", 5)
    try:
        file, line, col, operator, k, digest = parts
        numbers = int(line), int(col), int(k)
    except ValueError:
        raise ValueError(f"not a mutant id: {mutant_id!r} (expected FILE:LINE:COL:OPERATOR:K:DIGEST)") from None
    if operator not in OPERATORS:
        raise ValueError(f"not a mutant id: {mutant_id!r} (unknown operator {operator!r})")
    return file, numbers[0], numbers[1], operator, numbers[2], digest


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not under {root}") from None


def _mutants(file: str, source: SourceText) -> Iterator[tuple[Mutant, Site]]:
    """Every candidate, compiled or not, with its ``k`` (numbered before the compile check, so an
    id never depends on whether another mutant compiles)."""
    tree = ast.parse(source.text, filename=file)
    sites = sorted(find_sites(source, tree), key=lambda s: (s.start, _ORDER[s.operator]))
    seen: Counter[tuple[int, int, str]] = Counter()
    for site in sites:
        (line, col), (end_line, end_col) = source.position(site.start), source.position(site.end)
        k = seen[line, col, site.operator]
        seen[line, col, site.operator] += 1
        original = source.text[site.start : site.end]
        mutant_id = f"{file}:{line}:{col}:{site.operator}:{k}:{_digest(original)}"
        mutant = Mutant(
            mutant_id, file, line, col, end_line, end_col, site.operator, original, site.replacement, site.function
        )
        yield mutant, site


def _unit_compiles(source: SourceText, site: Site, filename: str) -> bool:
    """The mutated unit (the outermost def, or the top-level statement) compiles on its own:
    the same verdict as the whole file, at a fraction of the cost."""
    text = source.text
    unit = text[site.unit_start : site.start] + site.replacement + text[site.end : site.unit_end]
    if unit[:1].isspace():
        unit = "if 1:\n" + unit  # a method: its indented block needs a statement to belong to
    try:
        compile(unit, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def generate(path: Path, root: Path) -> list[Mutant]:
    """Every mutant of one source file (under ``root``), by position, then operator (in
    :data:`OPERATORS`' order). ValueError for a file outside ``root``, SyntaxError for one that
    does not parse."""
    file = _relative(path, root)
    source = SourceText(Path(path).read_text(encoding="utf-8"))
    return [m for m, site in _mutants(file, source) if _unit_compiles(source, site, file)]


def apply(mutant: Mutant, text: str) -> str:
    """``text`` (the mutant's file) with the mutant applied; ValueError if its span no longer
    holds its original text."""
    source = SourceText(text)
    line_count = text.count("\n") + 1
    if not (1 <= mutant.line <= mutant.end_line <= line_count):
        raise ValueError(f"stale mutant {mutant.id}: {mutant.file} has {line_count} lines")
    start = source.position_offset(mutant.line, mutant.col)
    end = source.position_offset(mutant.end_line, mutant.end_col)
    if text[start:end] != mutant.original:
        raise ValueError(
            f"stale mutant {mutant.id}: {mutant.file}:{mutant.line}:{mutant.col} no longer reads {mutant.original!r}"
        )
    return text[:start] + mutant.replacement + text[end:]


def mutated_source(mutant_id: str, root: Path) -> str:
    """The whole text of the mutant's file with that one mutant applied.

    ValueError for an id that is malformed, names a file that is not there, or no longer matches
    the source (the file changed since the id was made: no mutant of that operator at that
    position, or the code there is not the code the id was made from).
    """
    file, line, col, operator, k, _ = parse_id(mutant_id)
    path = Path(root) / file
    if Path(file).is_absolute() or ".." in Path(file).parts or not path.is_file():
        raise ValueError(f"unknown mutant {mutant_id}: no file {file} under {root}")
    text = path.read_text(encoding="utf-8")
    wanted = mutant_id.rsplit(":", 1)[0]
    for mutant, _site in _mutants(file, SourceText(text)):
        if mutant.id.rsplit(":", 1)[0] != wanted:
            continue
        if mutant.id != mutant_id:
            raise ValueError(
                f"stale mutant {mutant_id}: {file}:{line}:{col} now reads {mutant.original!r}, "
                "not the code the id was made from"
            )
        mutated = apply(mutant, text)
        try:
            compile(mutated, str(path), "exec", dont_inherit=True)
        except SyntaxError as error:
            raise ValueError(f"mutant {mutant_id} does not compile: {error}") from None
        return mutated
    raise ValueError(f"unknown mutant {mutant_id}: {file} has no {operator} mutant {k} at line {line}, column {col}")
