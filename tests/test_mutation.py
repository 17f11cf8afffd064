"""The source mutant generator (sim/mutation/): operators, ids, the import hook, the sample and its
statistics, the command. Pure Python, no simulator."""

from __future__ import annotations

import ast
import copy
import importlib
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from sim.mutation import hook
from sim.mutation.cli import main
from sim.mutation.operators import OPERATORS, Mutant, apply, generate, mutated_source, parse_id
from sim.mutation.sample import allocate, sample_size, stratified_sample, wilson_interval
from sim.mutation.targets import default_files

ROOT = Path(__file__).resolve().parent.parent

# One construct per operator, and the code that must never be mutated (lines marked "# none").
SAMPLE = '''\
"""A module docstring."""

from __future__ import annotations

import os

__all__ = ["compare"]

LIMIT = 0x1F


def compare(a, b, items):
    if a < b:
        return a >= b
    return a == b or a is None or a in items


def arith(x, y):
    x += y
    return (x - y) * 3 // 2 % 5


def bits(x, mask, c):
    x &= mask
    z = ("é", x ^ mask & c)
    return (x ^ mask) << 2 | ~x >> 1 | 0 ** x


def logic(a, b, items, i, f):
    value = items[i]
    value = items[i - 1 :]
    while not a:
        a = b and value
    f(a, b)
    f(a, "text")
    return max(a, b) if a else range(a, b)


def flag(x):
    if not (x and LIMIT):
        return True
    return False


def rtl(m, sig, other):
    with m.If(sig & other):
        m.d.comb += sig.eq(1)


def switches(self, system, mutant, x):
    assert x > 0  # none
    self.kassert(x > 1, "message")  # none
    if self.system.bug(Bug.NAME):  # none
        x = x + 1  # none
    else:
        x = x - 1
    early = system.bug(Bug.OTHER)  # none
    if not early:  # none
        x = x * 7
    if mutant == "name":  # none
        x = x * 2  # none
    y = 5 if mutant != "name" else 6
    raise ValueError(f"bad {x + 1}")  # none


def first_binding(x):
    total = x + 1
    total = total + 2
    return total


class Thing:
    def __init__(self, n):
        self.n = n  # none
        self.n = n - 1

    def __repr__(self):
        return f"Thing({self.n + 1})"  # none
'''

# (operator, original, replacement) that the sample must give.
EXPECTED = [
    ("compare-boundary", "a < b", "a <= b"),
    ("compare-direction", "a < b", "a > b"),
    ("compare-boundary", "a >= b", "a > b"),
    ("compare-direction", "a >= b", "a <= b"),
    ("compare-negate", "a == b", "a != b"),
    ("compare-negate", "a is None", "a is not None"),
    ("compare-negate", "a in items", "a not in items"),
    ("int-plus-one", "0x1F", "0x20"),
    ("int-minus-one", "0x1F", "0x1E"),
    ("int-plus-one", "3", "4"),
    ("int-minus-one", "3", "2"),
    ("int-minus-one", "0", "(-1)"),  # `0 ** x`: `-1 ** x` would be -(1 ** x)
    ("arith-swap", "x += y", "x -= y"),
    ("arith-swap", "x - y", "x + y"),
    ("arith-swap", "(x - y) * 3", "(x - y) // 3"),
    ("arith-swap", "(x - y) * 3 // 2", "(x - y) * 3 * 2"),
    ("arith-swap", "(x - y) * 3 // 2 % 5", "(x - y) * 3 // 2 // 5"),
    ("bitwise-swap", "x &= mask", "x |= mask"),
    ("bitwise-swap", "mask & c", "(mask | c)"),  # inside `x ^ ...`: `x ^ mask | c` would be another tree
    ("bitwise-swap", "x ^ mask", "x | mask"),
    ("shift-swap", "(x ^ mask) << 2", "(x ^ mask) >> 2"),
    ("shift-swap", "~x >> 1", "~x << 1"),
    ("drop-invert", "~x", "x"),
    ("index-plus-one", "i", "i + 1"),
    ("index-minus-one", "i", "i - 1"),
    ("index-plus-one", "i - 1", "i - 1 + 1"),
    ("drop-not", "not a", "a"),
    ("negate-condition", "not a", None),  # a `not` test: drop-not covers it
    ("bool-swap", "b and value", "b or value"),
    ("bool-swap", "a == b or a is None or a in items", "a == b and a is None and a in items"),
    ("swap-args", "f(a, b)", "f(b, a)"),
    ("swap-args", 'f(a, "text")', None),  # a string beside a value
    ("swap-args", "max(a, b)", None),  # the same value
    ("swap-args", "range(a, b)", "range(b, a)"),
    ("negate-condition", "a", "not a"),
    ("negate-condition", "a < b", "not (a < b)"),
    ("drop-not", "not (x and LIMIT)", "(x and LIMIT)"),
    ("return-bool", "True", "False"),
    ("return-bool", "False", "True"),
    ("return-none", "a >= b", "None"),
    ("return-none", "max(a, b) if a else range(a, b)", "None"),
    ("negate-rtl-condition", "sig & other", "(sig & other) == 0"),
    ("delete-statement", "m.d.comb += sig.eq(1)", "pass"),
    ("delete-statement", "f(a, b)", "pass"),
    ("delete-statement", "value = items[i - 1 :]", "pass"),
    ("delete-statement", "value = items[i]", None),  # the first binding of value
    ("delete-statement", "total = x + 1", None),
    ("delete-statement", "total = total + 2", "pass"),
    ("delete-statement", "self.n = n - 1", "pass"),
    ("arith-swap", "x - 1", "x + 1"),  # the else branch of a planted-bug switch is real code
    ("arith-swap", "x * 7", "x // 7"),  # so is the body of `if not early` (early = system.bug(...))
    ("int-plus-one", "5", "6"),  # `5 if mutant != "name" else 6`: 5 is the design, 6 the catalogue's
    ("int-plus-one", "6", None),
    ("delete-statement", 'y = 5 if mutant != "name" else 6', None),
]


def _sample_mutants(tmp_path: Path) -> tuple[Path, list[Mutant]]:
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE, encoding="utf-8")
    return path, generate(path, tmp_path)


def test_every_operator_gives_its_replacement_and_nothing_where_it_must_not(tmp_path):
    path, mutants = _sample_mutants(tmp_path)
    found = {(m.operator, m.original, m.replacement) for m in mutants}
    by_original = {(m.operator, m.original) for m in mutants}
    for operator, original, replacement in EXPECTED:
        if replacement is None:
            assert (operator, original) not in by_original, (operator, original)
        else:
            assert (operator, original, replacement) in found, (operator, original, replacement)
    assert {m.operator for m in mutants} == set(OPERATORS), "the sample exercises every operator"
    lines = SAMPLE.split("\n")
    for m in mutants:
        touched = lines[m.line - 1 : m.end_line]
        assert not any(line.endswith("# none") for line in touched), m
        assert m.file == "sample.py"
    names = {m.function for m in mutants}
    assert {"compare", "logic", "Thing.__init__", "<module>"} <= names
    assert "Thing.__repr__" not in names and "switches" in names


class _Swap(ast.NodeTransformer):
    """Puts ``new`` in place of the node of ``kind`` at ``key`` (its four AST positions)."""

    def __init__(self, kind: type, key: tuple[int, int, int, int], new: ast.AST):
        self.kind, self.key, self.new = kind, key, new

    def generic_visit(self, node):
        if type(node) is self.kind and (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) == self.key:
            return self.new
        return super().generic_visit(node)


def _expected_tree(tree: ast.Module, mutant: Mutant, text: str) -> list[str]:
    """The original tree with the mutant's node replaced by its replacement, parsed on its own:
    the mutated file must parse to one of these (a span can hold a statement and its value)."""
    line = text.split("\n")[mutant.line - 1]
    end_line = text.split("\n")[mutant.end_line - 1]
    key = (mutant.line, len(line[: mutant.col].encode()), mutant.end_line, len(end_line[: mutant.end_col].encode()))
    trees = []
    for node in ast.walk(tree):
        if getattr(node, "end_col_offset", None) is None or not isinstance(node, (ast.expr, ast.stmt)):
            continue
        if (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) != key:
            continue
        code = mutant.replacement.strip()
        try:
            new = ast.parse(f"({code})", mode="eval").body if isinstance(node, ast.expr) else ast.parse(code).body[0]
        except SyntaxError:
            continue  # `pass` for the call of an expression statement: the statement is the node
        trees.append(ast.dump(_Swap(type(node), key, new).visit(copy.deepcopy(tree))))
    return trees


def test_each_sample_mutant_changes_exactly_its_node_with_the_right_precedence(tmp_path):
    path, mutants = _sample_mutants(tmp_path)
    tree = ast.parse(SAMPLE)
    for mutant in mutants:
        mutated = apply(mutant, SAMPLE)
        assert ast.dump(ast.parse(mutated)) in _expected_tree(tree, mutant, SAMPLE), mutant


@pytest.fixture(scope="module")
def default_mutants() -> dict[Path, list[Mutant]]:
    return {path: generate(path, ROOT) for path in default_files(ROOT)}


def test_every_mutant_of_every_default_file_compiles_differs_and_keeps_its_lines(default_mutants):
    assert {p.parent.name for p in default_mutants} == {"firmware", "hdl"}
    for path, mutants in default_mutants.items():
        text = path.read_text(encoding="utf-8")
        assert mutants, path
        for mutant in mutants:
            mutated = apply(mutant, text)
            assert mutated != text and mutant.replacement != mutant.original, mutant.id
            assert mutated.count("\n") == text.count("\n"), mutant.id
            compile(mutated, str(path), "exec", dont_inherit=True)


def test_no_default_mutant_touches_a_planted_bug_or_a_catalogue_mutant(default_mutants):
    for mutants in default_mutants.values():
        for mutant in mutants:
            assert ".bug(" not in mutant.original and "mutant ==" not in mutant.original, mutant.id
            assert "mutant !=" not in mutant.original and "kassert(" not in mutant.original, mutant.id


def test_ids_are_unique_parse_back_and_are_stable(default_mutants):
    path = ROOT / "firmware" / "ipiq.py"
    first = default_mutants[path]
    assert generate(path, ROOT) == first
    ids = [m.id for path_mutants in default_mutants.values() for m in path_mutants]
    assert len(ids) == len(set(ids))
    for mutant in first:
        file, line, col, operator, k, digest = parse_id(mutant.id)
        assert (file, line, col, operator) == (mutant.file, mutant.line, mutant.col, mutant.operator)
        assert mutant.id == f"{file}:{line}:{col}:{operator}:{k}:{digest}"
    positions = [(m.line, m.col, list(OPERATORS).index(m.operator)) for m in first]
    assert positions == sorted(positions)


def test_mutated_source_applies_one_mutant_and_refuses_a_stale_or_unknown_id(tmp_path):
    path = tmp_path / "limits.py"
    path.write_text("def small(x):\n    return x < 10\n")
    (mutant,) = [m for m in generate(path, tmp_path) if m.operator == "compare-boundary"]
    assert mutant.id.startswith("limits.py:2:11:compare-boundary:0:")
    assert mutated_source(mutant.id, tmp_path) == "def small(x):\n    return x <= 10\n"
    path.write_text("def small(x):\n    return y < 10\n")  # same place, other code
    with pytest.raises(ValueError, match="stale"):
        mutated_source(mutant.id, tmp_path)
    with pytest.raises(ValueError, match="unknown mutant"):
        mutated_source(mutant.id.replace(":2:11:", ":9:11:"), tmp_path)
    with pytest.raises(ValueError, match="no file"):
        mutated_source(mutant.id.replace("limits.py", "gone.py"), tmp_path)
    with pytest.raises(ValueError, match="not a mutant id"):
        mutated_source("limits.py:2", tmp_path)


@pytest.fixture
def throwaway_package(tmp_path, request):
    """A package ``<name>`` under tmp_path with ``limits.py``, importable for the test only."""
    name = f"mutgen_probe_{request.node.name[:20]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "limits.py").write_text('"""Limits."""\n\n\ndef small(x):\n    return x < 10\n')
    sys.path.insert(0, str(tmp_path))
    yield name
    hook.uninstall()
    sys.path.remove(str(tmp_path))
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]
    importlib.invalidate_caches()


def test_the_hook_loads_the_mutated_module_and_nothing_else(tmp_path, throwaway_package):
    name = throwaway_package
    (mutant,) = [m for m in generate(tmp_path / name / "limits.py", tmp_path) if m.operator == "compare-boundary"]
    hook.install(mutant.id, tmp_path)
    hook.install(mutant.id, tmp_path)  # the same mutant again: nothing to do
    assert isinstance(sys.meta_path[0], hook.MutantFinder)
    limits = importlib.import_module(f"{name}.limits")
    assert limits.small(10) is True  # x <= 10 now
    assert limits.__file__ == str((tmp_path / name / "limits.py").resolve())
    assert limits.small.__code__.co_firstlineno == 4
    assert importlib.import_module(name).__file__ == str(tmp_path / name / "__init__.py")  # untouched
    with pytest.raises(RuntimeError, match="one mutant per process"):
        hook.install(mutant.id.replace(":0:", ":1:"), tmp_path)


def test_the_hook_refuses_a_module_already_imported(tmp_path, throwaway_package):
    name = throwaway_package
    limits = importlib.import_module(f"{name}.limits")
    (mutant,) = [m for m in generate(tmp_path / name / "limits.py", tmp_path) if m.operator == "compare-boundary"]
    with pytest.raises(RuntimeError, match="imported already"):
        hook.install(mutant.id, tmp_path)
    assert limits.small(10) is False
    assert not any(isinstance(f, hook.MutantFinder) for f in sys.meta_path)


def test_install_from_environment(tmp_path, throwaway_package, monkeypatch):
    name = throwaway_package
    monkeypatch.delenv(hook.MUTANT_ENV, raising=False)
    assert hook.install_from_environment(tmp_path) is None
    (mutant,) = [m for m in generate(tmp_path / name / "limits.py", tmp_path) if m.operator == "compare-direction"]
    monkeypatch.setenv(hook.MUTANT_ENV, mutant.id)
    assert hook.install_from_environment(tmp_path) == mutant.id
    assert importlib.import_module(f"{name}.limits").small(11) is True  # x > 10 now
    assert hook.module_name("firmware/ipiq.py") == "firmware.ipiq" and hook.module_name("hdl/__init__.py") == "hdl"


def _fake(file: str, operator: str, i: int) -> Mutant:
    return Mutant(f"{file}:{i}:0:{operator}:0:00000000", file, i, 0, i, 1, operator, "a", "b", "f")


def test_the_stratified_sample_is_deterministic_and_proportional():
    mutants = (
        [_fake("a.py", "swap-args", i) for i in range(100)]
        + [_fake("a.py", "drop-not", i) for i in range(10)]
        + [_fake("b.py", "swap-args", i) for i in range(1)]
    )
    sample = stratified_sample(mutants, 20, seed=7)
    assert sample == stratified_sample(mutants, 20, seed=7)
    assert sample != stratified_sample(mutants, 20, seed=8)
    assert Counter((m.file, m.operator) for m in sample) == {
        ("a.py", "swap-args"): 18,
        ("a.py", "drop-not"): 1,
        ("b.py", "swap-args"): 1,
    }
    assert sample == [m for m in mutants if m in sample]  # in the given order
    assert stratified_sample(mutants, 500, seed=1) == mutants
    assert len(stratified_sample(mutants, 2, seed=1)) == 2
    assert allocate({("a", "x"): 3, ("b", "x"): 3}, 4) == {("a", "x"): 2, ("b", "x"): 2}


def test_sample_size_and_wilson_interval_give_the_known_values():
    assert sample_size() == 385  # ±5 %, 95 %, p = 0.5, no population: 1.96² / (4 · 0.05²)
    assert sample_size(population=2930) == 340
    assert sample_size(margin=0.1) == 97
    assert sample_size(population=50) == 45
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_the_command_lists_counts_shows_and_refuses_bad_input(tmp_path, capsys):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "limits.py").write_text("def small(x):\n    return x < 10\n")
    args = ["--root", str(tmp_path), "--files", "pkg/*.py"]
    assert main(args) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == len(generate(tmp_path / "pkg" / "limits.py", tmp_path))
    assert any(line.endswith("small  x < 10 → x <= 10") for line in listing)
    assert main([*args, "--count"]) == 0
    count = capsys.readouterr().out
    assert "pkg/limits.py" in count and "compare-boundary" in count
    first = listing[0].split()[0]
    assert main(["--root", str(tmp_path), "--show", first]) == 0
    shown = capsys.readouterr().out
    assert f"mutant   {first}" in shown and "--- a/pkg/limits.py" in shown
    for bad in (["--show", "pkg/limits.py:9:0:drop-not:0:00000000"], ["--files", "nothing/*.py"], ["--bogus"]):
        assert main(["--root", str(tmp_path), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("python -m sim.mutation: error: ") and err.count("\n") == 1, err


def test_utf8_columns_are_characters(tmp_path):
    path = tmp_path / "accents.py"
    path.write_text(textwrap.dedent('def f(a):\n    return ("é€", a + 1)\n'), encoding="utf-8")
    (mutant,) = [m for m in generate(path, tmp_path) if m.operator == "arith-swap"]
    assert (mutant.line, mutant.col, mutant.original) == (2, 18, "a + 1")
    assert mutated_source(mutant.id, tmp_path).endswith('return ("é€", a - 1)\n')


def test_the_docs_table_lists_every_operator():
    page = (ROOT / "docs" / "mutation-generator.md").read_text()
    section = page.split("## Operators")[1].split("\n## ")[0]
    rows = [line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")]
    assert rows == list(OPERATORS)
    counted = page.split("## Counts")[1]
    assert [r for r in OPERATORS if f"| `{r}` |" in counted] == list(OPERATORS)
