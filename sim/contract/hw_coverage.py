"""Hardware functional coverage: what the cores' bus accesses did to the register contract.

One observer on every core port (``BusMaster.add_observer``) sorts each access
by the memory map (``hdl/memory_map.py``) into bins:

- ``reg.<block>.<REGISTER>.<read|write>``: each register, each legal access kind;
- ``bus-error.<kind>``: each kind of access the decoder answers with ``err``
  (unmapped, a read of a write-only or a write of a read-only register, an
  offset inside a block with no register, the CPU's own IPI slot);
- ``ipi.level.<class>.<n>``: the entries ``FIFO[s][d]`` holds after a push or a pop,
  per pair class (``up``: s < d, ``down``: s > d; the receiver drains lower
  sources first, so the two classes fill differently), ``ipi.push-on-full`` and
  ``ipi.pop-on-empty`` (WOF and ROE set);
- ``mplock.simultaneous-try``: TRYs of two CPUs presented in the same cycle,
  ``mplock.release-not-owner``; ``intc.claim-none`` (CLAIM with nothing
  pending), ``intc.complete-not-in-service``, ``intc.claimed.<source kind>``;
  ``timer.periodic-rearm`` (the timer fired again from PERIOD alone).

Levels and in-service sets are followed from the acknowledged accesses, by the
contract's rules. Every kernel run attaches it (``sim/tb/machine.py``): two of its events,
:data:`PROTOCOL_ERRORS`, are errors of a kernel, which that run reports as a failed check at the
access that made them. A scenario run with
``RunConfig.hw_coverage`` writes its bins into ``counters.json`` as ``hw_coverage``;
a directed cocotb module whose run.json asks for ``hw_coverage`` records every bench
it starts (``sim/tb/testbench.py``) and adds the bins to ``hw_coverage.json`` in its
run folder when the simulator exits.
"""

from __future__ import annotations

import json
from pathlib import Path

from hdl import memory_map as mm
from hdl.config import SocConfig

__all__ = ["HwCoverage", "hw_bins", "LEVEL_BINS", "PROTOCOL_ERRORS", "read_hits", "save_hits"]

#: FIFO levels with a bin of their own (0 .. this); a deeper FIFO's levels above it count here too.
LEVEL_BINS = 8
_CLASSES = ("up", "down")
_ERRORS = {
    "unmapped": "an address no block decodes",
    "hole": "an offset inside a block where no register is",
    "write-read-only": "a write of a read-only register",
    "read-write-only": "a read of a write-only register",
    "own-ipi-slot": "a CPU's own IPI slot (it cannot message itself)",
}
_EVENTS = {
    "ipi.push-on-full": "a push on a full FIFO (dropped, TX_STATUS.WOF set)",
    "ipi.pop-on-empty": "RX_POP on an empty FIFO (ignored, RX_STATUS.ROE set)",
    "mplock.simultaneous-try": "TRYs of two CPUs presented in the same cycle (the arbiter orders them)",
    "mplock.release-not-owner": "RELEASE by a CPU that does not own the lock (ERR.NONOWNER set)",
    "intc.claim-none": f"CLAIM with nothing pending returns {mm.CLAIM_NONE:#x}",
    "intc.complete-not-in-service": "COMPLETE of a source not in service (ignored)",
    "intc.claimed.ipi": "CLAIM returns the IPI source",
    "intc.claimed.timer": "CLAIM returns the timer",
    "intc.claimed.soft": "CLAIM returns the soft source",
    "intc.claimed.external": "CLAIM returns an external line",
    "timer.periodic-rearm": "the timer fired again with no COMPARE or CTRL write since it last fired (PERIOD)",
}

#: Events no kernel may cause: the hardware ignores them (a RELEASE of a lock another CPU owns sets only
#: ERR.NONOWNER, a COMPLETE of a source not in service changes nothing), so nothing else would see them.
PROTOCOL_ERRORS = ("mplock.release-not-owner", "intc.complete-not-in-service")


def hw_bins() -> dict[str, str]:
    """Every hardware bin's name and description, in a fixed order."""
    bins = {}
    for block in mm.BLOCKS:
        for reg in block.registers:
            for kind, legal in (("read", reg.access.readable), ("write", reg.access.writable)):
                if legal:
                    bins[f"reg.{block.name}.{reg.name}.{kind}"] = f"a {kind} of {block.name}.{reg.name}"
    bins.update({f"bus-error.{k}": f"err for {d}" for k, d in _ERRORS.items()})
    for cls in _CLASSES:
        for n in range(LEVEL_BINS + 1):
            bins[f"ipi.level.{cls}.{n}"] = (
                f"a FIFO[s][d] with s {'<' if cls == 'up' else '>'} d holds "
                f"{n}{' or more' if n == LEVEL_BINS else ''} entries"
            )
    bins.update(_EVENTS)
    return bins


class HwCoverage:
    """Bins hit by the accesses of every core of one run (see the module's doc)."""

    def __init__(self, config: SocConfig, on_error=None):
        """``on_error(event, cycle, cpu)`` hears of each :data:`PROTOCOL_ERRORS` event as it happens."""
        self.config = config
        self.on_error = on_error
        self.ncpu, self.depth = config.ncpu, config.fifo_depth
        self.hits: dict[str, int] = {}
        self.levels = [[0] * self.ncpu for _ in range(self.ncpu)]
        self.in_service = [set() for _ in range(self.ncpu)]
        self.periodic = [False] * self.ncpu  # PERIOD != 0
        self.rearmed_by_write = [True] * self.ncpu
        self.tries: dict[int, set[int]] = {}  # request cycle -> CPUs whose TRY was presented then
        self.owner: int | None = None

    def attach(self, masters) -> HwCoverage:
        for master in masters:
            master.add_observer(self.observe)
        return self

    def _hit(self, name: str) -> None:
        self.hits[name] = self.hits.get(name, 0) + 1

    def _error(self, name: str, cycle: int, cpu: int) -> None:
        self._hit(name)
        if self.on_error is not None:
            self.on_error(name, cycle, cpu)

    def observe(self, cycle: int, cpu: int, address: int, write: bool, value: int, ok: bool, cycles: int) -> None:
        block = mm.block_at(address)
        if block is None:
            if not ok:
                self._hit("bus-error.unmapped")
            return
        offset = address - block.base
        slot = None
        if block.slot_stride:
            slot, offset = divmod(offset, block.slot_stride)
        reg = _register_at(block, offset, self.config)
        if not ok:
            if slot is not None and slot == cpu and block.self_slot_error:
                self._hit("bus-error.own-ipi-slot")
            elif reg is None or (slot is not None and slot >= self.ncpu):
                self._hit("bus-error.hole")
            else:
                self._hit("bus-error.write-read-only" if write else "bus-error.read-write-only")
            return
        if reg is None:
            return
        self._hit(f"reg.{block.name}.{reg.name}.{'write' if write else 'read'}")
        handler = _EFFECTS.get((block.name, reg.name, write))
        if handler is not None:
            handler(self, cycle - cycles, cpu, slot, value)

    # -- the state the contract's rules follow ---------------------------------------------------

    def _level(self, src: int, dst: int, delta: int) -> None:
        level = self.levels[src][dst]
        if delta > 0 and level >= self.depth:
            self._hit("ipi.push-on-full")
            return
        if delta < 0 and level == 0:
            self._hit("ipi.pop-on-empty")
            return
        level += delta
        self.levels[src][dst] = level
        self._hit(f"ipi.level.{'up' if src < dst else 'down'}.{min(level, LEVEL_BINS)}")

    def _push(self, start, cpu, slot, value):
        self._level(cpu, slot, +1)

    def _pop(self, start, cpu, slot, value):
        self._level(slot, cpu, -1)

    def _try(self, start, cpu, slot, value):
        for old in [c for c in self.tries if c < start - 64]:
            del self.tries[old]
        same = self.tries.setdefault(start, set())
        if same - {cpu}:
            self._hit("mplock.simultaneous-try")
        same.add(cpu)
        if value == 1:
            self.owner = cpu

    def _release(self, start, cpu, slot, value):
        if self.owner != cpu:
            self._error("mplock.release-not-owner", start, cpu)
        else:
            self.owner = None

    def _bust(self, start, cpu, slot, value):
        self.owner = None

    def _claim(self, start, cpu, slot, value):
        if value == mm.CLAIM_NONE:
            self._hit("intc.claim-none")
            return
        self.in_service[cpu].add(value)
        kind = {mm.SOURCE_IPI: "ipi", mm.SOURCE_TIMER: "timer", mm.SOURCE_SOFT: "soft"}.get(value, "external")
        self._hit(f"intc.claimed.{kind}")
        if value == mm.SOURCE_TIMER:
            if self.periodic[cpu] and not self.rearmed_by_write[cpu]:
                self._hit("timer.periodic-rearm")
            self.rearmed_by_write[cpu] = False

    def _complete(self, start, cpu, slot, value):
        if value not in self.in_service[cpu]:
            self._error("intc.complete-not-in-service", start, cpu)
        self.in_service[cpu].discard(value)

    def _period(self, start, cpu, slot, value):
        self.periodic[cpu] = value != 0

    def _arm(self, start, cpu, slot, value):
        self.rearmed_by_write[cpu] = True


_EFFECTS = {
    ("ipi_tx", "TX_ARG", True): HwCoverage._push,
    ("ipi_rx", "RX_POP", True): HwCoverage._pop,
    ("mplock", "TRY", False): HwCoverage._try,
    ("mplock", "RELEASE", True): HwCoverage._release,
    ("mplock", "BUST", True): HwCoverage._bust,
    ("intc", "CLAIM", False): HwCoverage._claim,
    ("intc", "COMPLETE", True): HwCoverage._complete,
    ("timer", "PERIOD", True): HwCoverage._period,
    ("timer", "COMPARE_LO", True): HwCoverage._arm,
    ("timer", "COMPARE_HI", True): HwCoverage._arm,
    ("timer", "CTRL", True): HwCoverage._arm,
}


def save_hits(path: Path, coverages: list[HwCoverage]) -> None:
    """Add the bins of ``coverages`` to those ``path`` holds already."""
    hits = read_hits(path)
    for coverage in coverages:
        for name, n in coverage.hits.items():
            hits[name] = hits.get(name, 0) + n
    Path(path).write_text(json.dumps({"hits": hits}, indent=1, sort_keys=True) + "\n")


def read_hits(path: Path) -> dict[str, int]:
    """The bins a directed module's file holds (empty when there is none yet)."""
    try:
        return dict(json.loads(Path(path).read_text())["hits"])
    except FileNotFoundError:
        return {}


def _register_at(block: mm.Block, offset: int, config: SocConfig) -> mm.Register | None:
    """The register at ``offset`` (inside one slot) of ``block``, or None (a hole)."""
    for reg in block.registers:
        if reg.count is None:
            if offset == reg.offset:
                return reg
        elif reg.offset <= offset < reg.offset + 4 * reg.count(config) and (offset - reg.offset) % 4 == 0:
            return reg
    return None
