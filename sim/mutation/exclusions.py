"""What the mutator leaves alone, as predicates over AST nodes (``sim/mutation/operators.py``'s
docstring gives each rule its reason).

A *switch* is an expression that turns on a planted bug of another mechanism: the kernel's
``system.bug(Bug.NAME)`` (``firmware/bugs.py``, also through a local name bound from one) and an
RTL block's ``mutant`` comparisons (``hdl/mutants.py``). A switch is never mutated, nor is any
node that contains one, and the branch that runs only while the planted bug is on is skipped.
"""

from __future__ import annotations

import ast
import builtins

__all__ = [
    "is_switch",
    "contains_switch",
    "skipped_branches",
    "is_check_call",
    "only_checks",
    "is_skipped_function",
    "is_skipped_if",
    "assigns_all",
    "is_initializer",
    "is_builtin_name",
    "is_statement_domain",
    "is_sequence_literal",
    "is_text",
]

#: The kernel's own assertions, and the trace records and tracepoints it hands to the checkers:
#: part of the verification (docs/mutants.md's kill suite), not of the design under test.
_CHECK_CALLS = frozenset({"kassert", "event", "tracepoint"})
#: Functions whose bodies are never mutated: printable forms, the planted-bug switch, the checks.
_SKIPPED_FUNCTIONS = frozenset({"__repr__", "__str__", "bug"}) | _CHECK_CALLS
_INITIALIZERS = frozenset({"__post_init__"})
_BUILTINS = frozenset(dir(builtins))


def _is_mutant_name(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "mutant") or (
        isinstance(node, ast.Attribute) and node.attr == "mutant"
    )


def _is_bug_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "bug"


def _switch_polarity(node: ast.AST, names: frozenset[str] | set[str]) -> bool | None:
    """True for a switch that is true while its planted bug is on, False for one that is false
    then (``mutant != "name"``), None for anything that is not a switch."""
    if _is_bug_call(node):
        return True
    if isinstance(node, ast.Name) and node.id in names:
        return True
    if isinstance(node, ast.Compare) and any(_is_mutant_name(n) for n in (node.left, *node.comparators)):
        return not isinstance(node.ops[0], (ast.NotEq, ast.IsNot, ast.NotIn))
    return None


def is_switch(node: ast.AST, names: frozenset[str] | set[str]) -> bool:
    """``node`` is a switch (passing ``mutant=self.mutant`` on is not: it decides nothing)."""
    return _switch_polarity(node, names) is not None


def contains_switch(node: ast.AST, names: frozenset[str] | set[str]) -> bool:
    return any(is_switch(n, names) for n in ast.walk(node))


def _on_when(test: ast.AST, value: bool, names) -> bool:
    """``test`` evaluating to ``value`` implies that a planted bug is on."""
    polarity = _switch_polarity(test, names)
    if polarity is not None:
        return polarity == value
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _on_when(test.operand, not value, names)
    if isinstance(test, ast.BoolOp):
        # An `and` is true only if every operand is; an `or` is false only if every operand is.
        if isinstance(test.op, ast.And) == value:
            return any(_on_when(operand, value, names) for operand in test.values)
    return False


def skipped_branches(test: ast.AST, names: frozenset[str] | set[str]) -> tuple[bool, bool]:
    """(skip the body, skip the else branch) of an ``if`` or a ternary whose test is ``test``:
    a branch is skipped when it runs only while a planted bug is on."""
    return _on_when(test, True, names), _on_when(test, False, names)


def is_check_call(node: ast.AST) -> bool:
    """A call of the kernel's checks (``self.kassert(...)``, ``self.event(...)``, ``self.tracepoint(...)``)."""
    if isinstance(node, ast.Await):
        node = node.value
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in _CHECK_CALLS


def only_checks(statements: list[ast.stmt]) -> bool:
    """A block that does nothing but the kernel's checks (``if self._tracepoints: self.tracepoint(...)``)."""
    return all(isinstance(s, ast.Expr) and is_check_call(s.value) for s in statements)


def is_skipped_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return node.name in _SKIPPED_FUNCTIONS


def is_skipped_if(node: ast.If) -> bool:
    """``if TYPE_CHECKING:`` (imports for the type checker) and ``if __name__ == "__main__":``."""
    test = node.test
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def assigns_all(targets: list[ast.expr]) -> bool:
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


def is_initializer(name: str) -> bool:
    """A method that gives an object its attributes (``__init__``, a mixin's ``init_ipiq``,
    ``lwkt_gdinit``)."""
    return name in _INITIALIZERS or "init" in name


def is_builtin_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in _BUILTINS


def is_statement_domain(target: ast.AST) -> bool:
    """``m.d.sync``, ``m.d.comb``, ``m.d[name]``: Amaranth's ``+=`` there adds statements; it is no
    arithmetic."""
    if not isinstance(target, (ast.Attribute, ast.Subscript)):
        return False
    return isinstance(target.value, ast.Attribute) and target.value.attr == "d"


def is_sequence_literal(node: ast.AST) -> bool:
    """A string, bytes or sequence display: ``+`` and ``*`` there join and repeat, and the swapped
    operator would only raise TypeError."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    return isinstance(node, (ast.JoinedStr, ast.List, ast.Tuple, ast.ListComp))


def is_text(node: ast.AST) -> bool:
    """A string constant or an f-string."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))
