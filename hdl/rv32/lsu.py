"""Where a load or store goes, whether it may, and its byte lanes.

Two destinations: the core's local memory (``CORE_LOCAL`` of hdl/memory_map.py, byte-writable)
and the core bus to the SoC (word accesses only: it has no byte selects). A sub-word load from
the SoC reads the word and keeps its lanes; a sub-word store to the SoC is a store access fault,
because merging it would need a read first, and reads of SoC registers have side effects
(INTC.CLAIM, MPLOCK.TRY) and a read-modify-write of shared RAM is not atomic.
"""

from amaranth.hdl import Module, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..memory_map import CORE_LOCAL

__all__ = ["AccessCheck", "LoadLanes", "in_local_memory", "in_local_window"]


_WINDOW_BITS = CORE_LOCAL.size.bit_length() - 1


def in_local_window(addr):
    """Whether byte address ``addr`` (a Value) is in the local window."""
    return addr[_WINDOW_BITS:] == CORE_LOCAL.base >> _WINDOW_BITS


def in_local_memory(addr, local_bytes: int):
    """Whether ``addr`` is in the window and inside its memory of ``local_bytes``."""
    return in_local_window(addr) & (addr[local_bytes.bit_length() - 1 : _WINDOW_BITS] == 0)


class AccessCheck(wiring.Component):
    """Decodes the byte address of an access of size ``funct3[1:0]`` (0 byte, 1 half, 2 word).

    Attributes
    ----------
    addr : In(32)
    funct3 : In(3)
    store : In(1)
    data : In(32)         rs2, for a store
    local : Out(1)        the address is in the local window (else it goes to the core bus)
    misaligned : Out(1)
    fault : Out(1)        an access fault decided here: beyond the local memory, or a sub-word SoC store
    byte_en : Out(4)      a store's lanes
    wdata : Out(32)       a store's data on its lanes
    """

    def __init__(self, local_bytes: int):
        assert local_bytes & (local_bytes - 1) == 0 and local_bytes <= CORE_LOCAL.size
        self.local_bytes = local_bytes
        super().__init__(
            {
                "addr": In(32),
                "funct3": In(3),
                "store": In(1),
                "data": In(32),
                "local": Out(1),
                "misaligned": Out(1),
                "fault": Out(1),
                "byte_en": Out(4),
                "wdata": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        addr, size = self.addr, self.funct3[:2]
        in_memory = in_local_memory(addr, self.local_bytes)
        m.d.comb += [
            self.local.eq(in_local_window(addr)),
            self.misaligned.eq(((size == 1) & addr[0]) | ((size == 2) & (addr[:2] != 0))),
            self.fault.eq(Mux(self.local, ~in_memory, self.store & (size != 2))),
        ]
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += [self.byte_en.eq(1 << addr[:2]), self.wdata.eq(self.data[:8].replicate(4))]
            with m.Case(1):
                m.d.comb += [self.byte_en.eq(Mux(addr[1], 0b1100, 0b0011)), self.wdata.eq(self.data[:16].replicate(2))]
            with m.Default():
                m.d.comb += [self.byte_en.eq(0b1111), self.wdata.eq(self.data)]
        return m


class LoadLanes(wiring.Component):
    """The value a load of ``funct3`` at byte ``offset`` takes from the ``word`` read.

    Attributes
    ----------
    word : In(32)
    offset : In(2)
    funct3 : In(3)     000 LB, 001 LH, 010 LW, 100 LBU, 101 LHU
    value : Out(32)
    raw : Out(32)      the bytes read, zero-extended (the retirement record's data)
    """

    def __init__(self):
        super().__init__({"word": In(32), "offset": In(2), "funct3": In(3), "value": Out(32), "raw": Out(32)})

    def elaborate(self, platform):
        m = Module()
        shifted = self.word >> Cat(0, 0, 0, self.offset)
        unsigned = self.funct3[2]
        with m.Switch(self.funct3[:2]):
            with m.Case(0):
                m.d.comb += [
                    self.value.eq(Cat(shifted[:8], (shifted[7] & ~unsigned).replicate(24))),
                    self.raw.eq(shifted[:8]),
                ]
            with m.Case(1):
                m.d.comb += [
                    self.value.eq(Cat(shifted[:16], (shifted[15] & ~unsigned).replicate(16))),
                    self.raw.eq(shifted[:16]),
                ]
            with m.Default():
                m.d.comb += [self.value.eq(self.word), self.raw.eq(self.word)]
        return m
