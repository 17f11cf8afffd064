"""The base of every formal harness: free inputs, named properties, covers and past values.

A harness wraps one block (or a few) of hdl/, drives its inputs from free signals the
solver chooses every cycle, constrains them with ``Assume`` to what the surrounding
hardware guarantees, and states the register contract with ``Assert``. Each assertion
belongs to a named property of ``PROPERTIES``; the proof flow (formal/prove.py) maps a
failing assertion back to its property by the source line yosys-smtbmc reports.

Strengthening invariants (facts about internal state that make k-induction close) are
properties too, listed in ``INVARIANTS``: they are proven like the others, and kept in
every per-property run because the other properties lean on them.
"""

from __future__ import annotations

import inspect
import os

from amaranth.hdl import Assert, Assume, Const, Cover, Elaboratable, Fragment, Module, Mux, ResetSignal, Signal, Value

from hdl.probe import declared

__all__ = ["Harness", "internal", "internal_memory", "submodule"]


def _at(frag: Fragment, path: tuple[str, ...]) -> Fragment:
    """The fragment of the submodule at ``path`` (names of submodules) below ``frag``."""
    for sub in path:
        frag = next(f for f, n, _ in frag.subfragments if n == sub)
    return frag


def submodule(frag: Fragment, *path: str):
    """The elaboratable at ``path`` below ``frag``, e.g. ``("sys",)`` in a CPU tile: its ports."""
    return _at(frag, path).origins[0]


def internal(frag: Fragment, name: str, path: tuple[str, ...] = ()) -> Signal:
    """The signal ``name`` assigned inside ``frag`` (a local of some elaborate()).

    ``path`` names submodules to descend into first, e.g. ``("cpu1", "intc")``. The block there
    must declare ``name`` in its ``PROBES`` (hdl/probe.py): UndeclaredProbe otherwise. Harnesses
    read internal state through this only for invariants and for state the register contract
    makes observable (a register's value).
    """
    frag = _at(frag, path)
    declared(type(frag.origins[0]), name)
    for stmts in frag.statements.values():
        for s in stmts:
            for sig in s._lhs_signals():
                if sig.name == name:
                    return sig
    raise LookupError(f"{'.'.join(path) or 'top'}: no signal {name}")


def internal_memory(frag: Fragment, name: str):
    """The memory ``name`` elaborated inside ``frag``, declared in its block's ``PROBES``."""
    declared(type(frag.origins[0]), name)
    return _at(frag, (name,))


def _tag(stmt, number: int):
    """``stmt`` with the source location ``file#number:line`` (the caller of a Harness method)."""
    frame = inspect.stack()[2]
    stmt.src_loc = (f"{os.path.basename(frame.filename)}#{number}", frame.lineno)
    return stmt


class Harness(Elaboratable):
    """Subclasses set the class attributes and write :meth:`build`.

    Class attributes
    ----------------
    NAME : str                  the block's name on the command line (``lwkt-soc prove NAME``)
    TITLE : str                 one line: what is proven
    PROPERTIES : dict[str, str] property -> its statement, in report order
    INVARIANTS : tuple[str]     properties that are strengthening invariants
    BOUNDED : dict[str, str]    properties whose k-induction does not close -> why (the tests
                                expect exactly these BOUNDED and every other one PROVEN)
    SIZES : tuple[dict]         parameter sets of the full proof (``make prove``)
    QUICK : tuple[dict]         the subset CI runs
    DEPTH : int                 BMC depth, and k of the k-induction
    MUTANTS : tuple[str]        hardware mutants (hdl/mutants.py) planted in the blocks proven here
    SOLVER : str                the solver prove uses when none is given (``--solver`` overrides it)
    FREE_MEMORIES : bool        memories start with any contents (their $meminit is deleted), as in
                                the simulated SoC whose IPI memories have no initial contents
    FREE_RESET : bool           ``rst`` is a free input (the reset harness); otherwise it is assumed low.
                                The harness's own registers (past values) never reset.
    """

    NAME = ""
    TITLE = ""
    PROPERTIES: dict[str, str] = {}
    INVARIANTS: tuple[str, ...] = ()
    BOUNDED: dict[str, str] = {}
    SIZES: tuple[dict, ...] = ()
    QUICK: tuple[dict, ...] = ()
    DEPTH = 8
    MUTANTS: tuple[str, ...] = ()
    SOLVER = "z3"
    FREE_MEMORIES = False
    FREE_RESET = False

    def __init__(self, *, mutant: str = "", only: str | None = None, invariants: bool = True, **params):
        # only: assert just this property (and the invariants, unless ``invariants`` is False:
        # an induction run leans on them, a counterexample run must not stop at them).
        self.params, self.mutant, self.only, self.with_invariants = params, mutant, only, invariants
        # Every Assert and Cover is tagged with its own number in its source location
        # ("file#N:line"), which yosys-smtbmc echoes: N -> property, and N -> what a cover shows.
        self.checks: dict[int, str] = {}
        self.covers: dict[int, str] = {}
        self._inputs: list[Signal] = []
        self.past_valid = Signal(name="past_valid", reset_less=True)

    @classmethod
    def label(cls, params: dict) -> str:
        return f"{cls.NAME}[{','.join(f'{k}={v}' for k, v in params.items())}]"

    # -- building blocks for build() ---------------------------------------------------------------

    def input(self, shape, name: str) -> Signal:
        """A free input: the solver picks its value in every cycle."""
        sig = Signal(shape, name=f"f_{name}")
        self._inputs.append(sig)
        return sig

    def ports(self) -> list[Signal]:
        """The free inputs (known once the harness is elaborated), with ``clk`` and ``rst``."""
        return list(self._inputs)

    def check(self, m: Module, prop: str, cond) -> None:
        """Assert ``cond`` as part of ``prop`` (under the enclosing ``m.If``s)."""
        if prop not in self.PROPERTIES:
            raise KeyError(f"{self.NAME}: {prop} is not in PROPERTIES")
        number = len(self.checks) + len(self.covers)
        self.checks[number] = prop
        if self.only is None or prop == self.only or (self.with_invariants and prop in self.INVARIANTS):
            m.d.comb += _tag(Assert(cond), number)

    def cover(self, m: Module, cond, what: str) -> None:
        """Show that ``cond`` is reachable: the properties are not vacuous."""
        number = len(self.checks) + len(self.covers)
        self.covers[number] = what if what not in self.covers.values() else f"{what} (#{number})"
        if self.only is None:
            m.d.comb += _tag(Cover(cond), number)

    def past(self, m: Module, value, name: str) -> Signal:
        """The value of ``value`` one cycle ago (meaningful while ``past_valid``)."""
        value = Value.cast(value)
        sig = Signal(value.shape(), name=f"p_{name}", reset_less=True)
        m.d.sync += sig.eq(value)
        return sig

    def stable(self, m: Module, shape, name: str) -> Signal:
        """A free constant: the solver picks it once (it is assumed equal in every cycle)."""
        sig = self.input(shape, name)
        prev = self.past(m, sig, name)
        with m.If(self.past_valid):
            m.d.comb += Assume(sig == prev)
        return sig

    def drive_bus(self, m: Module, bus) -> tuple[Signal, Signal, Signal, Signal]:
        """Drive a block's register bus from free inputs; returns ``(req, we, addr, wdata)``."""
        req, we = self.input(1, "req"), self.input(1, "we")
        addr, wdata = self.input(len(bus.addr), "addr"), self.input(32, "wdata")
        m.d.comb += [bus.req.eq(req), bus.we.eq(we), bus.addr.eq(addr), bus.wdata.eq(wdata)]
        return req, we, addr, wdata

    def assume_legal(self, m: Module, win, req, we, addr) -> None:
        """Assume what the port decoder guarantees a block: a request at word offset ``addr`` of
        window ``win`` is legal (readable for a read, writable for a write). The bit table
        indexed by the address keeps this one expression at any window size."""
        span = 1 << len(addr)
        ok = {wr: Const(sum(1 << off for off in range(span) if win.legal(off, wr)), span) for wr in (False, True)}
        with m.If(req):
            m.d.comb += Assume(Mux(we, ok[True].bit_select(addr, 1), ok[False].bit_select(addr, 1)))

    def cycle_counter(self, m: Module) -> Signal:
        """The SoC's 64-bit cycle counter as a block sees it: any start value, then +1 per cycle."""
        cycle = self.input(64, "cycle")
        previous = self.past(m, cycle, "cycle")
        with m.If(self.past_valid):
            m.d.comb += Assume(cycle == (previous + 1)[:64])
        return cycle

    # -- Elaboratable ------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.past_valid.eq(1)
        if not self.FREE_RESET:
            m.d.comb += Assume(~ResetSignal())  # no reset: registers start at their init values
        try:
            self.build(m, platform)
        except Exception:
            m._MustUse__silence = True  # the error is reported; no "never used" warning on top
            raise
        return m

    def build(self, m: Module, platform) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define build(), the harness itself")
