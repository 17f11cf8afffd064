"""The lockstep comparator: each retirement of the core against one step of the reference.

For each record of the core's retirement port the caller passes the level of the interrupt request
the core saw at that instruction boundary and the cycle the record appeared in. The comparator
decides what the reference does at that boundary (take the interrupt when it was requested and
mstatus.MIE and mie.MEIE are set in the reference, else step one instruction), then compares every
field: pc, instruction, destination register and value, memory access (address, data, direction),
trap, mcause and mtval. The reads the reference cannot give (rv32_reference's UNMODELLED_CSRS) are
checked against models of their own here:

* mcycle / mcycleh: the cycle of execution (the record's cycle less one, as a CSR instruction
  executes in one cycle), counted from reset, with the value a write set;
* minstret / minstreth: the number of instructions retired before (traps do not retire);
* mip: MEIP is the request's level at the boundary; misa and mhartid: the core's constants.

The checked value then goes into the reference's register, so both go on from the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import capstone

from hdl.rv32.isa import MIP_MEIP, MISA, Csr
from .rv32_reference import MASK, Reference, Retirement, Step

__all__ = ["Lockstep", "Mismatch", "Counter"]

_DISASSEMBLER = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32)


def disassemble(word: int, pc: int) -> str:
    found = list(_DISASSEMBLER.disasm(word.to_bytes(4, "little"), pc))
    return f"{found[0].mnemonic} {found[0].op_str}".strip() if found else f".word {word:#010x}"


class Mismatch(AssertionError):
    """The core retired something else than the reference."""


@dataclass
class Counter:
    """A 64-bit counter as a write left it: ``value`` at ``since`` (a cycle, or a retirement count)."""

    value: int = 0
    since: int = 0

    def at(self, now: int) -> int:
        return (self.value + now - self.since) & (1 << 64) - 1

    def write(self, now: int, high: bool, word: int) -> None:
        """A write of one half at ``now``: from ``now + 1`` on, the other half counts on from ``at(now) + 1``."""
        counted = self.at(now) + 1
        if high:
            self.value = (word & MASK) << 32 | counted & MASK
        else:
            self.value = counted & ~MASK & (1 << 64) - 1 | word & MASK
        self.since = now + 1


class Lockstep:
    """Compares retirements of the core with hart ``hart_id`` against ``reference``."""

    def __init__(self, reference: Reference, hart_id: int = 0):
        self.reference, self.hart_id = reference, hart_id
        self.mcycle = Counter()
        self.minstret = Counter()
        self.retired = 0  # instructions retired (not trapped) so far
        self.compared = 0
        self.traps: dict[int, int] = {}
        self.predicted: dict[str, int] = {}
        self.unmodelled_reads = 0

    def check(self, got: Retirement, *, irq: bool, cycle: int) -> Retirement:
        """Compare ``got`` (appeared in ``cycle``; ``irq`` was the request's level at its boundary)."""
        ref = self.reference
        if irq and ref.interrupts_enabled():
            step = ref.take_interrupt()
        else:
            step = ref.step()
        want = step.retirement
        if step.predicted:
            self.predicted[step.predicted] = self.predicted.get(step.predicted, 0) + 1
        if step.csr is not None:
            self._counters(step, got, irq, cycle - 1)
        self._compare(got, want, irq)
        if want.trap:
            self.traps[want.cause] = self.traps.get(want.cause, 0) + 1
        else:
            self.retired += 1
        self.compared += 1
        return want

    def _counters(self, step: Step, got: Retirement, irq: bool, executed: int) -> None:
        csr, want = step.csr, step.retirement
        instret = self.minstret.at(self.retired)
        value = {
            Csr.MCYCLE: self.mcycle.at(executed) & MASK,
            Csr.MCYCLEH: self.mcycle.at(executed) >> 32,
            Csr.MINSTRET: instret & MASK,
            Csr.MINSTRETH: instret >> 32,
            Csr.MIP: MIP_MEIP if irq else 0,
            Csr.MISA: MISA,
            Csr.MHARTID: self.hart_id,
        }.get(csr)
        if value is None:
            return
        if want.rd_value is None:
            self.unmodelled_reads += 1
            want.rd_value = value
            self.reference.set_x(want.rd, value)
        if step.csr_writes and csr in (Csr.MCYCLE, Csr.MCYCLEH, Csr.MINSTRET, Csr.MINSTRETH):
            old = value
            new = {1: step.csr_operand, 2: old | step.csr_operand, 3: old & ~step.csr_operand}[step.csr_funct3 & 3]
            high = csr in (Csr.MCYCLEH, Csr.MINSTRETH)
            if csr in (Csr.MCYCLE, Csr.MCYCLEH):
                self.mcycle.write(executed, high, new)
            else:
                self.minstret.write(self.retired, high, new)

    def _compare(self, got: Retirement, want: Retirement, irq: bool) -> None:
        differ = [f.name for f in fields(Retirement) if getattr(got, f.name) != getattr(want, f.name)]
        if not differ:
            return
        word = want.insn or got.insn
        lines = [
            f"retirement {self.compared} differs in {', '.join(differ)}: pc {want.pc:#010x} "
            f"{disassemble(word, want.pc) if word else '(interrupt or fetch fault)'}; irq at the boundary: {int(irq)}",
        ]
        for name in differ:
            g, w = getattr(got, name), getattr(want, name)
            show = (lambda v: f"{v:#x}") if isinstance(w, int) and not isinstance(w, bool) else repr
            lines.append(f"  {name}: core {show(g)}, reference {show(w)}")
        raise Mismatch("\n".join(lines))
