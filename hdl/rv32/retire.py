"""The retirement port: one record per instruction that completes or traps."""

from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["RetireSignature"]


class RetireSignature(wiring.Signature):
    """What the core reports as it finishes each instruction, seen from the core.

    ``valid`` is high for one cycle, the cycle after the instruction completed (or trapped),
    which is also the first cycle of the next instruction's execution.

    Members
    -------
    valid : Out(1)
    pc, insn : Out(32)   ``insn`` is 0 for an interrupt and an instruction access fault
    rd : Out(5)          the register written, 0 when none
    rd_value : Out(32)
    mem_valid, mem_we : Out(1)   a load or store reached memory (local or the core bus)
    mem_addr : Out(32)           its byte address
    mem_data : Out(32)           the value loaded (as read, before extension) or stored, in its size
    trap : Out(1)
    cause, tval : Out(32)        mcause and mtval of the trap
    """

    def __init__(self):
        super().__init__(
            {
                "valid": Out(1),
                "pc": Out(32),
                "insn": Out(32),
                "rd": Out(5),
                "rd_value": Out(32),
                "mem_valid": Out(1),
                "mem_we": Out(1),
                "mem_addr": Out(32),
                "mem_data": Out(32),
                "trap": Out(1),
                "cause": Out(32),
                "tval": Out(32),
            }
        )
