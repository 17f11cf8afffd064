"""Bus signatures and the round-robin arbiter of the interconnect.

Two buses exist:

* the **core bus**, one per CPU: the Wishbone-style single-outstanding port of
  DESIGN.md §2 (``cyc``, ``stb``, ``we``, ``adr`` as a word address, ``dat_w``,
  ``dat_r``, ``ack``, ``err``) plus the CPU's ``irq`` line;
* the **register bus**, internal: a decoded, already-legal access to one block.
  ``req`` asks for the access, the block answers ``gnt`` in the same cycle when
  the access takes place now (always, for blocks that belong to one CPU; when
  the arbiter picks this initiator, for shared blocks) and drives ``rdata``
  combinationally for that cycle.
"""

from amaranth.hdl import Module, Signal, Mux, Array, Cat, Const, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .probe import private

__all__ = [
    "CoreBusSignature",
    "RegisterSignature",
    "RoundRobinArbiter",
    "SharedBus",
    "ADDR_WIDTH",
    "pack_fields",
    "round_robin",
    "prefix_member_names",
]

#: Word-address width of the core bus: the 32-bit byte address space.
ADDR_WIDTH = 30

#: round_robin()'s state, in both arbiters that use it.
_ROUND_ROBIN_PROBES = (private("after_last", "formal: the arbiter proof's round-robin state"),)


class CoreBusSignature(wiring.Signature):
    """A CPU's port, seen from the CPU (the initiator).

    Members
    -------
    cyc, stb, we : Out(1)
    adr : Out(30)   word address (byte address >> 2)
    dat_w : Out(32)
    dat_r : In(32)  valid while ``ack`` is high
    ack, err : In(1)  registered, one cycle each
    irq : In(1)     level interrupt request of this CPU's interrupt controller
    """

    def __init__(self):
        super().__init__(
            {
                "cyc": Out(1),
                "stb": Out(1),
                "we": Out(1),
                "adr": Out(ADDR_WIDTH),
                "dat_w": Out(32),
                "dat_r": In(32),
                "ack": In(1),
                "err": In(1),
                "irq": In(1),
            }
        )


class RegisterSignature(wiring.Signature):
    """A decoded access to one block, seen from the initiator.

    Parameters
    ----------
    addr_width : int
        Width of the word offset inside the block.
    """

    def __init__(self, addr_width: int):
        self.addr_width = addr_width
        super().__init__(
            {
                "req": Out(1),
                "we": Out(1),
                "addr": Out(max(addr_width, 1)),
                "wdata": Out(32),
                "gnt": In(1),
                "rdata": In(32),
            }
        )

    def __eq__(self, other):
        return isinstance(other, RegisterSignature) and other.addr_width == self.addr_width

    def __repr__(self):
        return f"RegisterSignature({self.addr_width})"


class RoundRobinArbiter(wiring.Component):
    """Grants one of ``n`` requests per cycle, combinationally, round-robin.

    The first requester after the last granted one (in circular order) wins, so
    a requester that keeps asking waits at most ``n - 1`` grants.

    Attributes
    ----------
    requests : In(n)
    grant : Out(n)    one-hot, or zero when nobody requests
    index : Out(range(n))  number of the granted requester
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = _ROUND_ROBIN_PROBES

    def __init__(self, n: int, *, mutant: str = ""):
        self.n, self.mutant = n, mutant
        super().__init__({"requests": In(n), "grant": Out(n), "index": Out(range(max(n, 2)))})

    def elaborate(self, platform):
        m = Module()
        grant, index = round_robin(m, self.requests, mutant=self.mutant)
        m.d.comb += [self.grant.eq(grant), self.index.eq(index)]
        return m


def round_robin(m: Module, requests: Value, *, mutant: str = ""):
    """Build round-robin arbitration of ``requests`` into ``m``; returns ``(grant, index)``.

    The first requester after the last granted one, in circular order, wins.
    ``mutant`` names a planted bug of hdl.mutants, "" for none.
    """
    n = len(requests)
    after_last = Signal(n, init=(1 << n) - 1)  # requesters strictly after the last grant
    masked = Signal(n)
    grant = Signal(n)
    index = Signal(range(max(n, 2)))

    def lowest(x):
        return (x & (~x + 1))[:n]

    m.d.comb += [
        masked.eq(requests & after_last),
        grant.eq(Mux(masked.any(), lowest(masked), lowest(requests))),
    ]
    if mutant == "arbiter-starve":
        # Bug: fixed priority, the lowest requester always wins and the others can starve.
        m.d.comb += grant.eq(lowest(requests))
    for i in range(n):
        with m.If(grant[i]):
            m.d.comb += index.eq(i)
    with m.If(grant.any()):
        m.d.sync += after_last.eq(~(grant | (grant - 1)[:n]))
    return grant, index


class SharedBus(wiring.Component):
    """Arbitrates ``n`` register buses onto one shared block.

    Attributes
    ----------
    initiators : In(RegisterSignature).array(n)
        One per CPU.
    target : Out(RegisterSignature)
        The winning access; ``target.gnt`` is driven high here (the block
        always completes a granted access in the same cycle).
    initiator : Out(range(n))
        CPU number of the winning access, for blocks that care who asks.
    mutant : str
        A planted bug of hdl.mutants for mutation testing, "" for none.
    """

    PROBES = (
        *_ROUND_ROBIN_PROBES,
        private("requests", "waveforms: who asks"),
        private("grant", "waveforms: who gets it"),
    )

    def __init__(self, n: int, addr_width: int, *, name: str | None = None, mutant: str = ""):
        self.n, self.mutant = n, mutant
        super().__init__(
            {
                "initiators": In(RegisterSignature(addr_width)).array(n),
                "target": Out(RegisterSignature(addr_width)),
                "initiator": Out(range(max(n, 2))),
            }
        )
        prefix_member_names(self, name)

    def elaborate(self, platform):
        m = Module()
        requests = Signal(self.n)
        m.d.comb += requests.eq(Cat(i.req for i in self.initiators))
        grant, index = round_robin(m, requests, mutant=self.mutant)
        ini = self.initiators
        m.d.comb += [
            self.initiator.eq(index),
            self.target.req.eq(grant.any()),
            self.target.we.eq(Array(i.we for i in ini)[index]),
            self.target.addr.eq(Array(i.addr for i in ini)[index]),
            self.target.wdata.eq(Array(i.wdata for i in ini)[index]),
        ]
        for k, i in enumerate(ini):
            m.d.comb += [i.gnt.eq(grant[k]), i.rdata.eq(self.target.rdata)]
        return m


def pack_fields(register, values: dict) -> Value:
    """A 32-bit value with ``values[name]`` in each named field of ``register``.

    Other bits are constant zero. Built with ``Cat`` rather than by assigning
    slices of a signal: Yosys turns constant slice assignments into
    ``always @*`` blocks without sensitivities, which Icarus never runs.
    """
    parts, position = [], 0
    for field in sorted((register.field(name) for name in values), key=lambda f: f.lsb):
        if field.lsb > position:
            parts.append(Const(0, field.lsb - position))
        value = Value.cast(values[field.name])
        if len(value) < field.width:
            value = Cat(value, Const(0, field.width - len(value)))
        parts.append(value[: field.width])
        position = field.lsb + field.width
    if position < 32:
        parts.append(Const(0, 32 - position))
    return Cat(*parts)


def prefix_member_names(component: wiring.Component, prefix: str | None, *, keep=()) -> None:
    """Re-create ``component``'s interface signals named ``{prefix}__{member}``.

    Signals of a submodule's interface also appear in the module that connects
    it; with the prefix they read ``cpu0__mplock__req`` there instead of
    ``mplock__req$57``. Members named in ``keep`` keep their plain names (for
    outputs best read in the block's own scope, such as ``debug.curthread``).
    Call it at the end of ``__init__``.
    """
    if prefix:
        created = component.signature.members.create(path=(prefix,))
        component.__dict__.update({name: value for name, value in created.items() if name not in keep})
