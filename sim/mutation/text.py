"""Source text for the mutator: character offsets of AST positions, the operator token between two
operands, and the parentheses a replacement needs where it lands.

``ast`` gives a line (1-based) and a column counted in UTF-8 bytes; every offset here is a
character offset into the text as ``Path.read_text`` returns it (universal newlines, so lines end
with ``\\n`` only), which is what a replacement is spliced into.
"""

from __future__ import annotations

import ast
import bisect
import re

__all__ = [
    "SourceText",
    "precedence",
    "required_precedence",
    "parenthesize",
    "find_token",
    "COMPARE_TOKEN",
    "BINOP_TOKEN",
    "BOOL_TOKEN",
    "AUGASSIGN_TOKEN",
    "TERNARY",
    "OR",
    "NOT",
    "COMPARE",
    "ARITH",
    "UNARY",
    "ATOM",
]

# Python's binding strengths, loosest first (the grammar's order of expression rules).
NAMED, LAMBDA, TERNARY, OR, AND, NOT, COMPARE = 0, 1, 2, 3, 4, 5, 6
BIT_OR, BIT_XOR, BIT_AND, SHIFT, ARITH, TERM, UNARY, POWER, AWAIT, ATOM = 7, 8, 9, 10, 11, 12, 13, 14, 15, 16

_BINOP = {
    ast.BitOr: BIT_OR,
    ast.BitXor: BIT_XOR,
    ast.BitAnd: BIT_AND,
    ast.LShift: SHIFT,
    ast.RShift: SHIFT,
    ast.Add: ARITH,
    ast.Sub: ARITH,
    ast.Mult: TERM,
    ast.MatMult: TERM,
    ast.Div: TERM,
    ast.FloorDiv: TERM,
    ast.Mod: TERM,
    ast.Pow: POWER,
}

# The operator tokens that can stand between two operands. Only blanks, parentheses, line
# continuations and comments share that gap with them, and comments are blanked out first.
COMPARE_TOKEN = re.compile(r"<=|>=|==|!=|<|>|\bis\s+not\b|\bis\b|\bnot\s+in\b|\bin\b")
BINOP_TOKEN = re.compile(r"\*\*|//|<<|>>|[-+*/%&|^@]")
BOOL_TOKEN = re.compile(r"\band\b|\bor\b")
AUGASSIGN_TOKEN = re.compile(r"(?:\*\*|//|<<|>>|[-+*/%&|^@])=")
_COMMENT = re.compile(r"#[^\n]*")


class SourceText:
    """One module's text with the conversions between AST positions and character offsets."""

    def __init__(self, text: str):
        self.text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def offset(self, lineno: int, byte_col: int) -> int:
        """The character offset of an AST position (line 1-based, column in UTF-8 bytes)."""
        start = self._line_starts[lineno - 1]
        end = self._line_starts[lineno] if lineno < len(self._line_starts) else len(self.text)
        line = self.text[start:end]
        if line.isascii():
            return start + byte_col
        return start + len(line.encode("utf-8")[:byte_col].decode("utf-8"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """The character offsets of a node's source, start included, end excluded."""
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def position_offset(self, line: int, col: int) -> int:
        """The character offset of (line 1-based, column 0-based in characters)."""
        return self._line_starts[line - 1] + col

    def position(self, offset: int) -> tuple[int, int]:
        """(line 1-based, column 0-based in characters) of a character offset."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index]

    def line_start(self, offset: int) -> int:
        return self._line_starts[bisect.bisect_right(self._line_starts, offset) - 1]

    def line_end(self, offset: int) -> int:
        """The offset just past the newline that ends the line holding ``offset`` (or the text's end)."""
        index = bisect.bisect_right(self._line_starts, offset)
        return self._line_starts[index] if index < len(self._line_starts) else len(self.text)

    def grouped(self, start: int, end: int) -> bool:
        """The text between ``start`` and ``end`` stands alone inside a pair of brackets (grouping
        parentheses, a call's only argument, a subscript): any expression fits there."""
        text, before, after = self.text, start - 1, end
        while before >= 0 and text[before].isspace():
            before -= 1
        while after < len(text) and text[after].isspace():
            after += 1
        return before >= 0 and after < len(text) and text[before] in "([" and text[after] in ")]"


def find_token(source: SourceText, start: int, end: int, pattern: re.Pattern) -> tuple[int, int]:
    """The offsets of the first token matching ``pattern`` between two operands, comments skipped."""
    gap = _COMMENT.sub(lambda m: " " * len(m.group()), source.text[start:end])
    match = pattern.search(gap)
    if match is None:
        raise ValueError(f"no operator between offsets {start} and {end}")
    return start + match.start(), start + match.end()


def precedence(node: ast.AST) -> int:
    """How tightly a node binds, as a level of Python's grammar (``ATOM`` for anything primary)."""
    if isinstance(node, ast.NamedExpr):
        return NAMED
    if isinstance(node, ast.Lambda):
        return LAMBDA
    if isinstance(node, ast.IfExp):
        return TERNARY
    if isinstance(node, ast.BoolOp):
        return OR if isinstance(node.op, ast.Or) else AND
    if isinstance(node, ast.UnaryOp):
        return NOT if isinstance(node.op, ast.Not) else UNARY
    if isinstance(node, ast.Compare):
        return COMPARE
    if isinstance(node, ast.BinOp):
        return _BINOP[type(node.op)]
    if isinstance(node, ast.Await):
        return AWAIT
    return ATOM


def required_precedence(parent: ast.AST | None, field: str) -> int:
    """The loosest level an expression may have, unparenthesized, in ``parent``'s ``field``."""
    if isinstance(parent, ast.BoolOp):
        return NOT if isinstance(parent.op, ast.And) else AND
    if isinstance(parent, ast.UnaryOp):
        return NOT if isinstance(parent.op, ast.Not) else UNARY
    if isinstance(parent, ast.BinOp):
        level = _BINOP[type(parent.op)]
        if isinstance(parent.op, ast.Pow):
            return AWAIT if field == "left" else UNARY
        return level if field == "left" else level + 1
    if isinstance(parent, ast.Compare):
        return BIT_OR
    if isinstance(parent, ast.IfExp):
        return TERNARY if field == "orelse" else OR
    if isinstance(parent, (ast.Attribute, ast.Await)) or (isinstance(parent, ast.Subscript) and field == "value"):
        return ATOM
    if isinstance(parent, ast.Call) and field == "func":
        return ATOM
    if isinstance(parent, ast.Starred):
        return BIT_OR
    if isinstance(parent, ast.comprehension):
        return OR
    free = (
        ast.Call,
        ast.keyword,
        ast.Subscript,
        ast.Slice,
        ast.List,
        ast.Tuple,
        ast.Set,
        ast.Dict,
        ast.Return,
        ast.Assign,
        ast.AugAssign,
        ast.AnnAssign,
        ast.Expr,
        ast.If,
        ast.While,
        ast.For,
        ast.AsyncFor,
        ast.withitem,
        ast.Lambda,
        ast.arguments,
    )
    return TERNARY if isinstance(parent, free) else ATOM


def parenthesize(text: str, level: int, required: int) -> str:
    """``text`` (an expression of ``level``) made to fit where ``required`` is the loosest level."""
    return f"({text})" if level < required else text
