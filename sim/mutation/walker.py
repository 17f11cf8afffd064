"""The walk over one module's AST that finds every mutation site: the statements, and the scopes
in source order, to know which local names are certainly bound before a statement (deleting the
only binding of a name would only make a NameError, a crash that every suite kills and that
says nothing about the suite). The expressions are ``sim/mutation/sites.py``'s.
"""

from __future__ import annotations

import ast

from . import exclusions as ex
from .sites import BINOP_SWAPS, ExpressionSites, Site
from .text import ATOM, AUGASSIGN_TOKEN, SourceText, find_token, parenthesize, precedence

__all__ = ["find_sites"]


def find_sites(source: SourceText, tree: ast.Module) -> list[Site]:
    """Every mutation site of a module, in the order the walk meets them."""
    walker = _Walker(source, tree)
    for statement in tree.body:
        walker.unit, walker.in_def = walker.unit_of(statement), False
        walker.statement(statement)
    return walker.sites


def _bound_names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


class _Walker(ExpressionSites):
    def __init__(self, source: SourceText, tree: ast.Module):
        super().__init__(source, tree)
        self.prefix = ""
        self.bound: set[str] = set()  # names certainly bound here, in the current scope
        self.initializer, self.attrs = False, set()  # in __init__: self.<attr> assigned so far
        self.in_def = False

    def unit_of(self, node: ast.AST) -> tuple[int, int]:
        start, end = self.src.span(node)
        return self.src.line_start(start), self.src.line_end(end)

    # -- statements --------------------------------------------------------------------------

    def block(self, statements: list[ast.stmt]) -> bool:
        """Walk a block; True if it can fall through to what follows it."""
        falls = True
        for statement in statements:
            falls = self.statement(statement) and falls
        return falls

    def statement(self, node: ast.stmt) -> bool:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.bound.add(node.name)
            if not ex.is_skipped_function(node):
                self.function_def(node)
        elif isinstance(node, ast.ClassDef):
            self.bound.add(node.name)
            self.class_def(node)
        elif isinstance(node, ast.Expr):
            self.expression_statement(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self.assignment(node)
        elif isinstance(node, ast.Return):
            self.returned(node)
            return False
        elif isinstance(node, (ast.Raise, ast.Break, ast.Continue)):
            return False
        elif isinstance(node, ast.If):
            return self.if_statement(node)
        elif isinstance(node, (ast.While, ast.For, ast.AsyncFor)):
            self.loop(node)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.with_item(item)
            return self.block(node.body)
        elif isinstance(node, (ast.Try, ast.TryStar)):
            return self.try_statement(node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.bound.update(node.names)
        elif isinstance(node, ast.Match):
            self.expr(node.subject)
            before = set(self.bound)
            for case in node.cases:
                self.branch(case.body, before)
            self.bound = before
        return True  # Assert, Pass, Delete: nothing to mutate

    def function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        saved = self.function, self.prefix, self.bound, self.switches, self.initializer, self.attrs
        saved_unit = self.unit, self.in_def
        if not self.in_def:
            self.unit, self.in_def = self.unit_of(node), True
        self.function = self.prefix + node.name
        args = node.args
        for default in [*args.defaults, *args.kw_defaults]:
            self.expr(default)  # decorators, annotations: never walked
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        self.prefix = f"{self.function}.<locals>."
        self.bound = {a.arg for a in every if a is not None}
        self.switches, self.initializer, self.attrs = set(), ex.is_initializer(node.name), set()
        self.block(node.body)
        self.function, self.prefix, self.bound, self.switches, self.initializer, self.attrs = saved
        self.unit, self.in_def = saved_unit

    def class_def(self, node: ast.ClassDef) -> None:
        saved = self.function, self.prefix, self.bound, self.initializer
        self.function = self.prefix + node.name
        self.prefix, self.bound, self.initializer = f"{self.function}.", set(), False
        self.block(node.body)  # bases, keywords, decorators: never walked
        self.function, self.prefix, self.bound, self.initializer = saved

    def expression_statement(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant) or ex.is_check_call(value):
            return  # docstrings and bare strings; the kernel's own assertions
        call = value.value if isinstance(value, ast.Await) else value
        if isinstance(call, ast.Call):
            self.delete(node)
        self.expr(value)

    def assignment(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is None or ex.assigns_all(targets):
            return  # a bare annotation binds nothing; __all__ is the module's interface
        if isinstance(node, ast.AugAssign):
            self.augmented(node)
            self.delete(node)
        else:
            if ex.is_switch(node.value, self.switches):
                self.switches.update(n for t in targets for n in _bound_names(t))
            if all(self.rebinds(t) for t in targets):
                self.delete(node)
        self.expr(node.value)
        for target in targets:
            self.target(target)
        if not isinstance(node, ast.AugAssign):
            for target in targets:
                self.bind(target)

    def rebinds(self, target: ast.AST) -> bool:
        """Assigning ``target`` here gives a new value to something that already has one."""
        if isinstance(target, ast.Name):
            return target.id in self.bound
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(self.rebinds(e) for e in target.elts)
        if isinstance(target, ast.Starred):
            return self.rebinds(target.value)
        if self.initializer and isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            return target.value.id != "self" or target.attr in self.attrs
        return True

    def bind(self, target: ast.AST) -> None:
        self.bound.update(_bound_names(target))
        for node in ast.walk(target):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                self.attrs.add(node.attr)

    def target(self, target: ast.AST) -> None:
        """The expressions inside an assignment target: subscript indices, attribute owners."""
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.target(element)
        elif isinstance(target, ast.Starred):
            self.target(target.value)
        elif isinstance(target, ast.Subscript):
            self.expr(target)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value)

    def delete(self, node: ast.stmt) -> None:
        if not self.switch_in(node):
            self.add_node(node, "delete-statement", "pass")

    def augmented(self, node: ast.AugAssign) -> None:
        swap = BINOP_SWAPS.get(type(node.op))
        if swap is None or ex.is_statement_domain(node.target) or ex.is_sequence_literal(node.value):
            return
        if self.switch_in(node):
            return
        start, end = self.src.span(node)
        t0, t1 = find_token(self.src, self.src.span(node.target)[1], self.src.span(node.value)[0], AUGASSIGN_TOKEN)
        self.add(start, end, swap[0], f"{self.text[start:t0]}{swap[1]}={self.text[t1:end]}")

    def returned(self, node: ast.Return) -> None:
        value = node.value
        if value is None:
            return
        if not self.switch_in(value):
            if isinstance(value, ast.Constant) and isinstance(value.value, bool):
                self.add_node(value, "return-bool", str(not value.value))
            elif not (isinstance(value, ast.Constant) and value.value is None):
                self.add_node(value, "return-none", "None")
        self.expr(value)

    def branch(self, statements: list[ast.stmt], before: set[str], skipped: bool = False) -> tuple[bool, set[str]]:
        """Walk one branch from the names bound ``before`` it; a skipped branch (it runs only with
        a planted bug on) is not walked and counts as never reaching what follows."""
        if skipped:
            return False, set()
        self.bound = set(before)
        falls = self.block(statements)
        return falls, self.bound

    def merge(self, paths: list[tuple[bool, set[str]]], before: set[str]) -> bool:
        """After branches: what every branch that falls through has bound."""
        reached = [bound for falls, bound in paths if falls]
        self.bound = set.intersection(*reached) if reached else before
        return bool(reached)

    def if_statement(self, node: ast.If) -> bool:
        if ex.is_skipped_if(node):
            return True
        skip_body, skip_else = ex.skipped_branches(node.test, self.switches)
        if not (ex.only_checks(node.body) and not node.orelse):
            self.negate(node.test)
        self.expr(node.test)
        before = set(self.bound)
        paths = [self.branch(node.body, before, skip_body), self.branch(node.orelse, before, skip_else)]
        return self.merge(paths, before)

    def loop(self, node: ast.While | ast.For | ast.AsyncFor) -> None:
        if isinstance(node, ast.While):
            self.negate(node.test)
            self.expr(node.test)
        else:
            self.expr(node.iter)
            self.target(node.target)
        before = set(self.bound)
        if not isinstance(node, ast.While):
            self.bind(node.target)
        self.block(node.body)  # the body may run no time at all: nothing it binds is certain after
        self.branch(node.orelse, before)
        self.bound = before

    def with_item(self, item: ast.withitem) -> None:
        call = item.context_expr
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("If", "Elif")
            and len(call.args) == 1
            and not call.keywords
        ):
            self.rtl_condition(call.args[0])
        self.expr(call)
        if item.optional_vars is not None:
            self.bind(item.optional_vars)

    def rtl_condition(self, test: ast.expr) -> None:
        """Amaranth's hardware condition, ``m.If(test)``: a signal has no ``not`` and ``~`` of a
        wide value is no negation; ``== 0`` negates "non-zero", which is what ``m.If`` tests."""
        if isinstance(test, ast.Starred) or self.switch_in(test):
            return
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Invert):
            return  # `m.If(~x)`: drop-invert already gives `m.If(x)`
        text = parenthesize(self.src.segment(test), precedence(test), ATOM)  # `(a & b) == 0`: plain to read
        self.add_node(test, "negate-rtl-condition", f"{text} == 0")

    def try_statement(self, node: ast.Try | ast.TryStar) -> bool:
        before = set(self.bound)
        falls = self.block(node.body)
        falls = self.block(node.orelse) and falls
        paths = [(falls, self.bound)]
        for handler in node.handlers:
            start = before | ({handler.name} if handler.name else set())
            paths.append(self.branch(handler.body, start))
        falls = self.merge(paths, before)
        return self.block(node.finalbody) and falls
