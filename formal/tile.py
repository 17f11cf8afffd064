"""Formal harness for the port decoder of hdl/tile.py (CpuTile) and the core-bus protocol.

The tile is proven alone. Its core port is driven by a free Wishbone-classic master, its
cycle counter, RX_PENDING and external lines are free, and the blocks outside the tile
(MP lock, ROUTE, DEVICE, RAM, IPI send and receive sides) are free register buses: their
``gnt`` and ``rdata`` are chosen by the solver. The tile's own blocks (SYS, INTC, TIMER,
DEBUG and the RX_PENDING word) are the real ones.

The contract the decoder is checked against is rebuilt here from the register list of
hdl/memory_map.py (blocks, registers, slots, array counts and access), not from the
windows and masks the decoder itself uses. The port carries word addresses, so a
misaligned access cannot reach the tile (sim/tb/bus.py refuses it); a word of a block that
holds no register (a gap, a slot's unused words) counts as unmapped.

Liveness needs two facts about the surroundings, both assumptions here:
* an arbiter grants a request it keeps seeing on its ``ncpu``-th presentation at the
  latest (round-robin: at most ncpu-1 others go first; proven with the arbiter);
* wait-state injection (``stall``) lasts at most ``STALL_MAX`` cycles in a row
  (sim/tb/faults.py injects runs of 1 to 6 cycles).
"""

from amaranth.hdl import Assume, Fragment, Mux, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.tile import EXTERNAL_BLOCKS, CpuTile

from .harness import Harness, internal, submodule

__all__ = ["DecoderHarness", "contract_ranges"]

#: Longest run of stalled cycles the testbench injects (sim/tb/faults.py: 1 to 6).
STALL_MAX = 6

#: Blocks served inside the tile: RX_PENDING by the tile itself, the others by a submodule.
TILE_BLOCKS = ("sys", "ipi_pending", "intc", "timer", "debug")
_BUS = ("req", "we", "addr", "wdata", "gnt", "rdata")


def contract_ranges(config: SocConfig, cpu: int):
    """``(block, first word address, words, access)`` of every register CPU ``cpu`` may address.

    Built from the register list: slots of other CPUs only (``self_slot_error``), array
    registers as one contiguous range of ``count`` words.
    """
    out = []
    for block in mm.BLOCKS:
        slots = [None]
        if block.slot_stride:
            slots = [s for s in range(config.ncpu) if not (block.self_slot_error and s == cpu)]
        for slot in slots:
            for reg in block.registers:
                count = reg.count(config) if reg.count else 1
                if count:
                    first = block.addr(reg.name, slot=slot, index=0 if reg.count else None)
                    out.append((block, first // 4, count, reg.access))
    return out


def _tile_buses(frag: Fragment, tile: CpuTile) -> dict:
    """Block name -> (req, we, addr, wdata, gnt, rdata) of every register bus the decoder drives.

    The only place that reaches inside the tile: its own blocks are built in elaborate().
    """
    buses = {}
    for name in TILE_BLOCKS:
        if name == "ipi_pending":  # no block of its own: a bus the tile creates (a declared probe)
            buses[name] = tuple(internal(frag, f"ipi_pending__{member}") for member in _BUS)
        else:  # the block's port: the decoder drives req/we/addr/wdata, the block gnt/rdata
            bus = submodule(frag, name).bus
            buses[name] = tuple(getattr(bus, member) for member in _BUS)
    for name in EXTERNAL_BLOCKS:
        bus = getattr(tile, name)
        buses[name] = (bus.req, bus.we, bus.addr, bus.wdata, bus.gnt, bus.rdata)
    return buses


class DecoderHarness(Harness):
    NAME = "decoder"
    TITLE = "the port decoder of a CPU tile (hdl/tile.py) and the core-bus protocol"
    PROPERTIES = {
        "bad-access-err": "a bad access (unmapped, write to a read-only or read of a write-only register, "
        "own IPI slot, IPI slot >= NCPU) raises no block's req (the tile's own included) "
        "and is answered err, not ack, the next cycle",
        "legal-one-block": "a legal access raises the req of exactly its block, with the contract's offset, "
        "we and wdata; no block sees a request while none is presented",
        "legal-answer": "a legal access is answered ack the cycle after its block grants it (dat_r = the "
        "block's rdata for a read, 0 for a write), and nothing is answered while it is refused",
        "ack-xor-err": "ack and err are never high together",
        "one-cycle": "ack and err last one cycle",
        "answer-needs-request": "an answer comes only the cycle after a presented, unanswered request "
        "(no answer without a request, at most one per request)",
        "answer-bound": "every request is answered at most ncpu*(STALL_MAX+1) cycles after its first cycle",
        "wait-counters": "invariant: a waiting request has been refused fewer than ncpu times, stalled "
        "at most STALL_MAX cycles in a row, and waited at most tries*(STALL_MAX+1)+run cycles",
    }
    INVARIANTS = ("wait-counters",)
    SIZES = (
        {"ncpu": 2, "cpu": 0},
        {"ncpu": 2, "cpu": 1},
        {"ncpu": 3, "cpu": 0},
        {"ncpu": 3, "cpu": 2},
        {"ncpu": 4, "cpu": 0},
        {"ncpu": 4, "cpu": 3},
    )
    QUICK = ({"ncpu": 2, "cpu": 0},)
    DEPTH = 3
    MUTANTS = ("decoder-accepts-unmapped",)

    def build(self, m, platform):
        n, cpu = self.params["ncpu"], self.params.get("cpu", 0)  # --size ncpu=N alone: CPU 0
        cfg = SocConfig(ncpu=n, mutant=self.mutant)
        tile = CpuTile(cfg, cpu)
        frag = Fragment.get(tile, platform)
        m.submodules.tile = frag
        buses = _tile_buses(frag, tile)
        port = tile.bus

        # The core: a free master, constrained below to the Wishbone rules.
        cyc, stb, we = self.input(1, "cyc"), self.input(1, "stb"), self.input(1, "we")
        adr, dat_w = self.input(len(port.adr), "adr"), self.input(32, "dat_w")
        stall = self.input(1, "stall")
        m.d.comb += [
            port.cyc.eq(cyc),
            port.stb.eq(stb),
            port.we.eq(we),
            port.adr.eq(adr),
            port.dat_w.eq(dat_w),
            tile.stall.eq(stall),
            tile.cycle.eq(self.input(64, "cycle")),
            tile.rx_pending.eq(self.input(n, "rx_pending")),
            tile.ext.eq(self.input(len(tile.ext), "ext")),
        ]
        for name in EXTERNAL_BLOCKS:
            bus = getattr(tile, name)
            m.d.comb += [bus.gnt.eq(self.input(1, f"{name}_gnt")), bus.rdata.eq(self.input(32, f"{name}_rdata"))]

        ack, err, dat_r = port.ack, port.err, port.dat_r
        answer = ack | err
        # The contract: a request is seen while cyc&stb, the port is not answering and not stalled.
        cur = Signal()  # a request is on the port and not answered in this cycle
        presented = Signal()  # ... and the decoder must look at it
        m.d.comb += [cur.eq(cyc & stb & ~answer), presented.eq(cur & ~stall)]

        # -- the register contract, rebuilt from the register list -------------------------------
        legal = {name: Signal(name=f"spec_legal_{name}") for name in buses}
        offset = {}
        terms = {name: [] for name in buses}
        mapped, wrong_dir = 0, 0
        for block, first, count, access in contract_ranges(cfg, cpu):
            width = len(buses[block.name][2])
            last = first + count - 1 - block.base // 4
            if last >= 1 << width:  # the block's bus could not carry this offset
                raise ValueError(f"{block.name}: word offset {last} does not fit {width} bits")
            inside = (adr == first) if count == 1 else ((adr >= first) & (adr <= first + count - 1))
            if access is mm.Access.RW:
                terms[block.name].append(inside)
            else:
                allowed = we if access is mm.Access.W else ~we
                terms[block.name].append(inside & allowed)
                wrong_dir = wrong_dir | (inside & ~allowed)
        for block in mm.BLOCKS:
            lo, hi = block.base // 4, (block.base + block.size) // 4
            mapped = mapped | ((adr >= lo) & (adr < hi))
            offset[block.name] = (adr - lo)[: len(buses[block.name][2])]
        for name, sig in legal.items():
            m.d.comb += sig.eq(_any(terms[name]))
        any_legal = Signal()
        m.d.comb += any_legal.eq(_any(legal.values()))

        # -- the surroundings ------------------------------------------------------------------
        ncpu_grant = n  # round-robin: granted on the n-th presentation at the latest
        bound = ncpu_grant * (STALL_MAX + 1)
        age = Signal(range(bound + 2))  # cycles this request has waited so far
        tries = Signal(range(ncpu_grant + 1))  # cycles it was presented (not stalled) so far
        run = Signal(range(STALL_MAX + 2))  # stalled cycles in a row just before this one
        m.d.sync += [
            age.eq(Mux(cur, age + 1, 0)),
            tries.eq(Mux(cur, tries + presented, 0)),
            run.eq(Mux(cur & stall, run + 1, 0)),
        ]
        with m.If(cur & stall):
            m.d.comb += Assume(run < STALL_MAX)
        for name in EXTERNAL_BLOCKS:
            req, gnt = buses[name][0], buses[name][4]
            m.d.comb += Assume(~gnt | req)  # arbiters and the IPI matrix grant only requests
            with m.If(req & (tries == ncpu_grant - 1)):
                m.d.comb += Assume(gnt)

        past = self.past_valid
        p_cur = self.past(m, cur, "cur")
        # Wishbone master: a request, once on the port, stays there unchanged until answered. In the
        # answer cycle itself the port is free (sim/tb/bus.py already drives the next request there).
        p_adr, p_we, p_dat_w = self.past(m, adr, "adr"), self.past(m, we, "we"), self.past(m, dat_w, "dat_w")
        with m.If(past & p_cur & ~answer):
            m.d.comb += Assume(cyc & stb & (adr == p_adr) & (we == p_we) & (dat_w == p_dat_w))

        p_presented, p_answer = self.past(m, presented, "presented"), self.past(m, answer, "answer")
        p_legal = self.past(m, any_legal, "legal")
        reqs = {name: bus[0] for name, bus in buses.items()}

        # -- decoder ---------------------------------------------------------------------------
        with m.If(presented & ~any_legal):
            for req in reqs.values():
                self.check(m, "bad-access-err", ~req)
        with m.If(past & p_presented & ~p_legal):
            self.check(m, "bad-access-err", err & ~ack)

        with m.If(~presented):
            for req in reqs.values():
                self.check(m, "legal-one-block", ~req)
        for name, (req, bwe, baddr, bwdata, _, _) in buses.items():
            with m.If(presented & legal[name]):
                self.check(m, "legal-one-block", req & (bwe == we) & (baddr == offset[name]) & (bwdata == dat_w))
                for other, oreq in reqs.items():
                    if other != name:
                        self.check(m, "legal-one-block", ~oreq)

        p_hit, p_gnt, p_rdata = {}, {}, {}
        for name, bus in buses.items():
            p_hit[name] = self.past(m, legal[name], f"legal_{name}")
            p_gnt[name], p_rdata[name] = self.past(m, bus[4], f"gnt_{name}"), self.past(m, bus[5], f"rdata_{name}")
            with m.If(past & p_presented & p_hit[name]):
                with m.If(p_gnt[name]):
                    self.check(m, "legal-answer", ack & ~err & (dat_r == Mux(p_we, 0, p_rdata[name])))
                with m.Else():
                    self.check(m, "legal-answer", ~ack & ~err)

        # -- protocol --------------------------------------------------------------------------
        self.check(m, "ack-xor-err", ~(ack & err))
        with m.If(past & p_answer):
            self.check(m, "one-cycle", ~answer)
        with m.If(answer):
            self.check(m, "answer-needs-request", past & p_presented)
        with m.If(cur):
            self.check(m, "answer-bound", age < bound)
            self.check(
                m, "wait-counters", (tries < ncpu_grant) & (run <= STALL_MAX) & (age <= tries * (STALL_MAX + 1) + run)
            )

        # -- non-vacuity (one call per cover: the flow tells covers apart by their line) ---------
        def was(cond, what):
            return past & p_presented & self.past(m, cond, what) & err

        def acked(name, write):
            return past & p_presented & p_hit[name] & (p_we == write) & ack

        tx, rx, slot = mm.IPI_TX.base // 4, mm.IPI_RX.base // 4, mm.IPI_TX.slot_stride // 4
        self.cover(m, was(~mapped, "unmapped"), "err for an unmapped address")
        self.cover(m, was(wrong_dir, "wrong_dir"), "err for a wrong-direction access")
        self.cover(
            m, was((adr >= tx + cpu * slot) & (adr < tx + (cpu + 1) * slot), "own_tx"), "err for the own IPI_TX slot"
        )
        self.cover(
            m, was((adr >= rx + cpu * slot) & (adr < rx + (cpu + 1) * slot), "own_rx"), "err for the own IPI_RX slot"
        )
        self.cover(
            m,
            was((adr >= tx + n * slot) & (adr < tx + mm.IPI_TX.size // 4), "tx_beyond"),
            "err for an IPI_TX slot >= NCPU",
        )
        self.cover(
            m,
            was((adr >= rx + n * slot) & (adr < rx + mm.IPI_RX.size // 4), "rx_beyond"),
            "err for an IPI_RX slot >= NCPU",
        )
        self.cover(m, acked("sys", 0), "ack of a read of sys")
        self.cover(m, acked("ipi_pending", 0), "ack of a read of ipi_pending")
        self.cover(m, acked("intc", 0), "ack of a read of intc")
        self.cover(m, acked("intc", 1), "ack of a write to intc")
        self.cover(m, acked("timer", 0), "ack of a read of timer")
        self.cover(m, acked("timer", 1), "ack of a write to timer")
        self.cover(m, acked("debug", 0), "ack of a read of debug")
        self.cover(m, acked("debug", 1), "ack of a write to debug")
        self.cover(m, acked("mplock", 0), "ack of a read of mplock")
        self.cover(m, acked("mplock", 1), "ack of a write to mplock")
        self.cover(m, acked("route", 0), "ack of a read of route")
        self.cover(m, acked("route", 1), "ack of a write to route")
        self.cover(m, acked("device", 0), "ack of a read of device")
        self.cover(m, acked("device", 1), "ack of a write to device")
        self.cover(m, acked("ram", 0), "ack of a read of ram")
        self.cover(m, acked("ram", 1), "ack of a write to ram")
        self.cover(m, acked("ipi_tx", 0), "ack of a read of ipi_tx")
        self.cover(m, acked("ipi_tx", 1), "ack of a write to ipi_tx")
        self.cover(m, acked("ipi_rx", 0), "ack of a read of ipi_rx")
        self.cover(m, acked("ipi_rx", 1), "ack of a write to ipi_rx")
        # tries counts the granted presentation too: 2 means one refusal before it.
        self.cover(m, past & p_cur & ack & (tries >= 2), "an ack after a refused grant")
        self.cover(m, past & answer & (self.past(m, run, "run") >= 1), "an answer after a stall")
        self.cover(m, presented & p_answer, "a new request presented right after an answer")


def _any(values):
    """The OR of ``values`` (0 for none)."""
    out = 0
    for v in values:
        out = out | v
    return out
