"""The core's local memory: code and private data, loaded with the program before reset."""

from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LocalMemory"]


class LocalMemory(wiring.Component):
    """``words`` 32-bit words, one synchronous read port and one byte-writable write port.

    One read port serves both fetches and loads: the sequencer never needs both in one cycle.
    The read is transparent to a write of the same cycle, so a store to the next instruction is
    fetched as stored.

    Parameters
    ----------
    words : int         a power of two
    init : list[int]    the program image, word k at byte offset 4k (the rest reads 0)

    Attributes
    ----------
    read_addr : In(log2 words)   word address; ``read_data`` has the word in the next cycle
    read_data : Out(32)
    write_addr : In(log2 words)
    write_data : In(32)
    write_en : In(4)             one bit per byte lane
    """

    def __init__(self, words: int, init=()):
        assert words & (words - 1) == 0 and len(init) <= words
        self.words, self.init = words, list(init)
        bits = max(words.bit_length() - 1, 1)
        super().__init__(
            {
                "read_addr": In(bits),
                "read_data": Out(32),
                "write_addr": In(bits),
                "write_data": In(32),
                "write_en": In(4),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = memory.Memory(shape=32, depth=self.words, init=self.init)
        write = storage.write_port(granularity=8)
        read = storage.read_port(transparent_for=(write,))
        m.d.comb += [
            read.addr.eq(self.read_addr),
            self.read_data.eq(read.data),
            write.addr.eq(self.write_addr),
            write.data.eq(self.write_data),
            write.en.eq(self.write_en),
        ]
        return m
