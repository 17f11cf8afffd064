"""Mutation sites: a span of a module's source, the operator, and the text that replaces it; and
the expression operators (``sim/mutation/operators.py`` names them and gives the rules,
``sim/mutation/exclusions.py`` holds the predicates of what is left alone).

Every replacement keeps the span's line count (a shorter one is padded with newlines), so each
line after it keeps its number, and it is parenthesized where its place needs a tighter
expression than it is (``sim/mutation/text.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from itertools import pairwise

from . import exclusions as ex
from .text import (
    ARITH,
    ATOM,
    BINOP_TOKEN,
    BOOL_TOKEN,
    COMPARE_TOKEN,
    NOT,
    UNARY,
    SourceText,
    find_token,
    parenthesize,
    precedence,
    required_precedence,
)

__all__ = ["Site", "ExpressionSites", "BINOP_SWAPS"]

_BOUNDARY = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">"}
_DIRECTION = {ast.Lt: ">", ast.Gt: "<", ast.LtE: ">=", ast.GtE: "<="}
_NEGATE = {ast.Eq: "!=", ast.NotEq: "==", ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}
_COMPARE_OPERATORS = (("compare-boundary", _BOUNDARY), ("compare-direction", _DIRECTION), ("compare-negate", _NEGATE))
# operator class -> (mutation operator, new token, the new operator's class for its precedence)
BINOP_SWAPS = {
    ast.Add: ("arith-swap", "-", ast.Sub()),
    ast.Sub: ("arith-swap", "+", ast.Add()),
    ast.Mult: ("arith-swap", "//", ast.FloorDiv()),
    ast.FloorDiv: ("arith-swap", "*", ast.Mult()),
    ast.Mod: ("arith-swap", "//", ast.FloorDiv()),
    ast.BitAnd: ("bitwise-swap", "|", ast.BitOr()),
    ast.BitOr: ("bitwise-swap", "&", ast.BitAnd()),
    ast.BitXor: ("bitwise-swap", "|", ast.BitOr()),
    ast.LShift: ("shift-swap", ">>", ast.RShift()),
    ast.RShift: ("shift-swap", "<<", ast.LShift()),
}


#: The builtins whose first two arguments mean something in either order.
_ORDERED_BUILTINS = frozenset({"range", "pow", "divmod", "round"})


@dataclass(frozen=True)
class Site:
    """One mutation: character offsets of the replaced span, and the unit (whole lines of the
    outermost ``def``, else of the top-level statement) that compiles on its own to check it."""

    start: int
    end: int
    operator: str
    replacement: str
    function: str
    unit_start: int
    unit_end: int


def _int_literal(value: int, like: str) -> str:
    """``value`` written in the base of the literal ``like`` (hex stays hex, in its case)."""
    sign, magnitude, prefix = "-" if value < 0 else "", abs(value), like[:2].lower()
    for base_prefix, spec in (("0x", "x"), ("0o", "o"), ("0b", "b")):
        if prefix == base_prefix:
            digits = format(magnitude, spec)
            if spec == "x" and any(c.isupper() for c in like[2:]):
                digits = digits.upper()
            return f"{sign}{like[:2]}{digits}"
    return str(value)


class ExpressionSites:
    """Records the sites of one module; the expression operators. ``sim/mutation/walker.py``
    adds the statements and the scopes."""

    def __init__(self, source: SourceText, tree: ast.Module):
        self.src, self.text, self.sites = source, source.text, []
        self.parents: dict[int, tuple[ast.AST, str]] = {}
        for parent in ast.walk(tree):
            for field, value in ast.iter_fields(parent):
                for child in value if isinstance(value, list) else [value]:
                    if isinstance(child, ast.AST):
                        self.parents[id(child)] = (parent, field)
        self.function = "<module>"
        self.switches: set[str] = set()  # local names bound from a planted-bug switch
        self.unit = (0, 0)

    # -- recording ---------------------------------------------------------------------------

    def add(self, start: int, end: int, operator: str, replacement: str) -> None:
        original = self.text[start:end]
        missing = original.count("\n") - replacement.count("\n")
        if missing < 0 or replacement == original:
            return
        site = Site(start, end, operator, replacement + "\n" * missing, self.function, *self.unit)
        self.sites.append(site)

    def add_node(self, node: ast.AST, operator: str, replacement: str) -> None:
        self.add(*self.src.span(node), operator, replacement)

    def fit(self, node: ast.AST, text: str, level: int) -> str:
        """``text`` of ``level``, parenthesized if ``node``'s place needs a tighter expression."""
        start, end = self.src.span(node)
        if self.src.grouped(start, end):
            return text
        parent, field = self.parents.get(id(node), (None, ""))
        return parenthesize(text, level, required_precedence(parent, field))

    def switch_in(self, node: ast.AST) -> bool:
        return ex.contains_switch(node, self.switches)

    def negate(self, test: ast.expr) -> None:
        """The negated-condition mutant of an if, elif, while or ternary test."""
        if self.switch_in(test) or (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
            return  # `not x`: drop-not already gives `x`
        operand = parenthesize(self.src.segment(test), precedence(test), ATOM)  # `not (a < b)`, not `not a < b`
        self.add_node(test, "negate-condition", self.fit(test, f"not {operand}", NOT))

    # -- expressions -------------------------------------------------------------------------

    def expr(self, node: ast.AST | None) -> None:
        if node is None or ex.is_switch(node, self.switches) or isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, ast.Constant):
            if type(node.value) is int:  # not bool, not str: strings are never mutated
                self.integer(node)
            return
        if not self.switch_in(node):
            self.mutate(node)
        if isinstance(node, ast.IfExp):
            skip_body, skip_else = ex.skipped_branches(node.test, self.switches)
            self.negate(node.test)
            self.expr(node.test)
            if not skip_body:
                self.expr(node.body)
            if not skip_else:
                self.expr(node.orelse)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.keyword):
                self.expr(child.value)
            elif isinstance(child, ast.comprehension):
                self.expr(child.iter)
                for test in child.ifs:
                    self.expr(test)
            elif isinstance(child, ast.expr):
                self.expr(child)

    def mutate(self, node: ast.expr) -> None:
        if isinstance(node, ast.Compare):
            self.compare(node)
        elif isinstance(node, ast.BinOp):
            self.binop(node)
        elif isinstance(node, ast.BoolOp):
            self.boolop(node)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            start, end = self.src.span(node)
            operand = self.text[start:end][3 if isinstance(node.op, ast.Not) else 1 :].lstrip()
            self.add(start, end, "drop-not" if isinstance(node.op, ast.Not) else "drop-invert", operand)
        elif isinstance(node, ast.Subscript):
            self.subscript(node)
        elif isinstance(node, ast.Call):
            self.swap_args(node)

    def compare(self, node: ast.Compare) -> None:
        start, end = self.src.span(node)
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            t0, t1 = find_token(self.src, self.src.span(left)[1], self.src.span(right)[0], COMPARE_TOKEN)
            for operator, table in _COMPARE_OPERATORS:
                if type(op) in table:
                    self.add(start, end, operator, f"{self.text[start:t0]}{table[type(op)]}{self.text[t1:end]}")
            left = right

    def binop(self, node: ast.BinOp) -> None:
        swap = BINOP_SWAPS.get(type(node.op))
        if swap is None or ex.is_sequence_literal(node.left) or ex.is_sequence_literal(node.right):
            return
        operator, token, new_op = swap
        level = precedence(ast.BinOp(left=node.left, op=new_op, right=node.right))
        start, end = self.src.span(node)
        (ls, le), (rs, re_) = self.src.span(node.left), self.src.span(node.right)
        t0, t1 = find_token(self.src, le, rs, BINOP_TOKEN)
        left, right = self.text[ls:le], self.text[rs:re_]
        # An operand that bound tightly enough for the old operator may not for the new one.
        if "(" not in self.text[start:ls]:
            left = parenthesize(left, precedence(node.left), level)
        if ")" not in self.text[re_:end]:
            right = parenthesize(right, precedence(node.right), level + 1)
        text = f"{self.text[start:ls]}{left}{self.text[le:t0]}{token}{self.text[t1:rs]}{right}{self.text[re_:end]}"
        self.add(start, end, operator, self.fit(node, text, level))

    def boolop(self, node: ast.BoolOp) -> None:
        start, end = self.src.span(node)
        new, pieces, at = ("or" if isinstance(node.op, ast.And) else "and"), [], start
        for a, b in pairwise(node.values):
            t0, t1 = find_token(self.src, self.src.span(a)[1], self.src.span(b)[0], BOOL_TOKEN)
            pieces += [self.text[at:t0], new]
            at = t1
        text = "".join(pieces) + self.text[at:end]
        level = precedence(ast.BoolOp(op=ast.And() if new == "and" else ast.Or(), values=[]))
        self.add(start, end, "bool-swap", self.fit(node, text, level))

    def integer(self, node: ast.Constant) -> None:
        text = self.src.segment(node)
        for operator, value in (("int-plus-one", node.value + 1), ("int-minus-one", node.value - 1)):
            literal = _int_literal(value, text)
            self.add_node(node, operator, self.fit(node, literal, ATOM if value >= 0 else UNARY))

    def subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        indices = [index.lower, index.upper] if isinstance(index, ast.Slice) else [index]
        if ex.is_builtin_name(node.value):
            return  # list[int], type[X]: a type, not an index
        for index in indices:
            if (
                index is None
                or isinstance(index, (ast.Constant, ast.JoinedStr, ast.Tuple, ast.Slice))
                or (isinstance(index, ast.UnaryOp) and isinstance(index.operand, ast.Constant))
                or ex.is_builtin_name(index)
                or self.switch_in(index)
            ):
                continue  # constants have int-plus-one / int-minus-one
            operand = parenthesize(self.src.segment(index), precedence(index), ARITH)
            for operator, sign in (("index-plus-one", "+"), ("index-minus-one", "-")):
                self.add_node(index, operator, self.fit(index, f"{operand} {sign} 1", ARITH))

    def swap_args(self, node: ast.Call) -> None:
        if len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args[:2]):
            return
        if ex.is_builtin_name(node.func) and node.func.id not in _ORDERED_BUILTINS:
            return  # isinstance, map, getattr: a TypeError; max, min: the same value
        (s0, e0), (s1, e1) = self.src.span(node.args[0]), self.src.span(node.args[1])
        first, second = self.text[s0:e0], self.text[s1:e1]
        if first == second or ex.is_text(node.args[0]) != ex.is_text(node.args[1]):
            return  # a name or message beside a value: swapped, mostly a TypeError
        start, end = self.src.span(node)
        self.add(start, end, "swap-args", f"{self.text[start:s0]}{second}{self.text[e0:s1]}{first}{self.text[e1:end]}")
