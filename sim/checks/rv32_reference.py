"""The reference CPU of the RV32 check: unicorn (QEMU's RISC-V) stepped one instruction at a time,
made to behave as the core's specification where unicorn cannot or does not.

Unicorn executes the instruction; this module adds what it leaves out:

* **Trap entry.** Unicorn reports an exception to a hook (or as an error) but never enters the
  guest's trap handler, so every trap's mepc, mcause, mtval, mstatus and pc are written here.
  The cause is unicorn's (ecall, illegal instruction, breakpoint, an access to unmapped memory);
  mtval is the address or instruction word the specification asks for.
* **What the core chose differently, within what the specification allows**, decided here before
  stepping: the core has no C, A, S or U extension and fewer CSRs, so those encodings are illegal
  (unicorn executes them); it traps misaligned loads and stores (unicorn performs them); it fetches
  only from its local memory; a sub-word store to the core bus is an access fault. A jump to an
  address that is not a multiple of 4 is stepped, then undone into an instruction-address-misaligned
  trap (unicorn, having C, takes it).
* **WARL registers.** After a CSR write or an mret, mstatus, mie, mtvec and mepc are set to the
  value the core keeps (mstatus.MPP always 3, as there is only machine mode).
* **Unmodelled reads.** mcycle, minstret (both halves), mip, misa and mhartid read the host's clock,
  nothing, unicorn's extensions and 0 there: a read of them is returned as ``rd_value=None``, and
  the caller (the lockstep comparator) checks the core's value against its own model and writes it
  into the reference's register.

Interrupts are the caller's: :meth:`Reference.take_interrupt` enters the trap when the caller has
decided that one is due at this boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unicorn import (
    UC_ARCH_RISCV,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_INSN_INVALID,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_INTR,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_WRITE,
    UC_MEM_WRITE,
    UC_MODE_RISCV32,
    Uc,
    UcError,
)
from unicorn import riscv_const as rc

from hdl.memory_map import CORE_LOCAL
from hdl.rv32.isa import MIE_MEIE, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP, Cause, Csr
from sim.contract import rv32_isa as isa
from sim.contract.rv32_image import ProgramImage

__all__ = ["Retirement", "Step", "Reference", "ReferenceError", "UNMODELLED_CSRS"]

MASK = 0xFFFF_FFFF
#: CSRs whose value the reference cannot give (see the module's text).
UNMODELLED_CSRS = (Csr.MCYCLE, Csr.MCYCLEH, Csr.MINSTRET, Csr.MINSTRETH, Csr.MIP, Csr.MISA, Csr.MHARTID)
_XREGS = [getattr(rc, f"UC_RISCV_REG_X{k}") for k in range(32)]
_CSR_REGS = {
    Csr.MSTATUS: rc.UC_RISCV_REG_MSTATUS,
    Csr.MIE: rc.UC_RISCV_REG_MIE,
    Csr.MTVEC: rc.UC_RISCV_REG_MTVEC,
    Csr.MSCRATCH: rc.UC_RISCV_REG_MSCRATCH,
    Csr.MEPC: rc.UC_RISCV_REG_MEPC,
    Csr.MCAUSE: rc.UC_RISCV_REG_MCAUSE,
    Csr.MTVAL: rc.UC_RISCV_REG_MTVAL,
}
_AMO = 0x2F
#: Unicorn's exception numbers (QEMU's RISCV_EXCP_*): its ecall is reported as the user-mode one.
_UC_ILLEGAL, _UC_ECALLS = 2, (8, 9, 11)


class ReferenceError(RuntimeError):
    """Unicorn did something the check does not know how to read: a bug of the check, not the core."""


@dataclass
class Retirement:
    """One record of the retirement port (hdl/rv32/retire.py), as Python values."""

    pc: int
    insn: int
    rd: int = 0
    rd_value: int | None = 0
    mem_valid: bool = False
    mem_we: bool = False
    mem_addr: int = 0
    mem_data: int = 0
    trap: bool = False
    cause: int = 0
    tval: int = 0


@dataclass
class Step:
    """What the reference did for one retirement, and what the caller must model."""

    retirement: Retirement
    csr: int | None = None  # a CSR instruction that did not trap: its address ...
    csr_funct3: int = 0
    csr_operand: int = 0  # ... rs1's value or the zimm ...
    csr_writes: bool = False  # ... and whether it writes
    predicted: str = ""  # why the outcome was decided here rather than by unicorn
    notes: list[str] = field(default_factory=list)


def _warl(csr: int, value: int, old: int) -> int:
    """The value the core keeps when ``value`` is written to ``csr`` (``old`` for a read-only one)."""
    if csr == Csr.MSTATUS:
        return value & (MSTATUS_MIE | MSTATUS_MPIE) | MSTATUS_MPP
    if csr == Csr.MIE:
        return value & MIE_MEIE
    if csr in (Csr.MTVEC, Csr.MEPC):
        return value & ~3 & MASK
    if csr in (Csr.MSCRATCH, Csr.MCAUSE, Csr.MTVAL):
        return value & MASK
    return old


class Reference:
    """Unicorn loaded with ``image``: the local memory at ``CORE_LOCAL.base``, and ``pages``
    (``(base, bytes)``, plain memory) standing for what answers on the core bus."""

    def __init__(
        self, image: ProgramImage, *, local_bytes: int, pages: dict[int, bytes], entry: int | None = None
    ) -> None:
        if local_bytes % 4096:
            raise ValueError(f"local_bytes={local_bytes}: unicorn maps memory in 4 KiB pages")
        self.local_bytes = local_bytes
        uc = self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        uc.mem_map(CORE_LOCAL.base, local_bytes)
        words = image.words(CORE_LOCAL.base, local_bytes // 4)
        uc.mem_write(CORE_LOCAL.base, b"".join(w.to_bytes(4, "little") for w in words))
        for base, data in pages.items():
            uc.mem_map(base, len(data))
            uc.mem_write(base, bytes(data))
        uc.reg_write(rc.UC_RISCV_REG_PC, image.entry if entry is None else entry)
        uc.reg_write(rc.UC_RISCV_REG_MSTATUS, MSTATUS_MPP)
        for csr in (Csr.MIE, Csr.MTVEC, Csr.MSCRATCH, Csr.MEPC, Csr.MCAUSE, Csr.MTVAL):
            uc.reg_write(_CSR_REGS[csr], 0)
        self._exception: int | None = None
        self._accesses: list[tuple[bool, int, int, int]] = []
        uc.hook_add(UC_HOOK_INTR, self._on_exception)
        uc.hook_add(UC_HOOK_MEM_READ, self._on_access)
        uc.hook_add(UC_HOOK_MEM_WRITE, self._on_access)

    # -- state -------------------------------------------------------------------------------------
    @property
    def pc(self) -> int:
        return self.uc.reg_read(rc.UC_RISCV_REG_PC)

    def x(self, k: int) -> int:
        return self.uc.reg_read(_XREGS[k]) & MASK if k else 0

    def set_x(self, k: int, value: int) -> None:
        if k:
            self.uc.reg_write(_XREGS[k], value & MASK)

    def csr(self, csr: int) -> int:
        return self.uc.reg_read(_CSR_REGS[csr]) & MASK

    def interrupts_enabled(self) -> bool:
        """mstatus.MIE and mie.MEIE: an external interrupt request would be taken now."""
        return bool(self.csr(Csr.MSTATUS) & MSTATUS_MIE and self.csr(Csr.MIE) & MIE_MEIE)

    def registers(self) -> list[int]:
        return [self.x(k) for k in range(32)]

    def _word(self, address: int) -> int:
        return int.from_bytes(self.uc.mem_read(address, 4), "little")

    def _local(self, address: int, size: int = 1) -> bool:
        return CORE_LOCAL.base <= address and address + size <= CORE_LOCAL.base + self.local_bytes

    # -- traps -------------------------------------------------------------------------------------
    def _enter_trap(self, pc: int, insn: int, cause: int, tval: int) -> Retirement:
        uc = self.uc
        mstatus = self.csr(Csr.MSTATUS)
        mpie = MSTATUS_MPIE if mstatus & MSTATUS_MIE else 0
        uc.reg_write(rc.UC_RISCV_REG_MSTATUS, mpie | MSTATUS_MPP)
        uc.reg_write(rc.UC_RISCV_REG_MEPC, pc)
        uc.reg_write(rc.UC_RISCV_REG_MCAUSE, cause)
        uc.reg_write(rc.UC_RISCV_REG_MTVAL, tval & MASK)
        uc.reg_write(rc.UC_RISCV_REG_PC, self.csr(Csr.MTVEC))
        return Retirement(pc=pc, insn=insn, trap=True, cause=cause, tval=tval & MASK)

    def take_interrupt(self) -> Step:
        """Enter the external-interrupt trap before the instruction at pc."""
        return Step(self._enter_trap(self.pc, 0, Cause.EXTERNAL_INTERRUPT, 0))

    def _on_exception(self, uc, number, _data) -> None:
        self._exception = number
        uc.emu_stop()

    def _on_access(self, uc, access, address, size, value, _data) -> None:
        self._accesses.append((access == UC_MEM_WRITE, address, size, value))

    # -- one instruction ---------------------------------------------------------------------------
    def _predict(self, pc: int, word: int) -> Step | None:
        """The outcome decided here instead of by unicorn (see the module's text), or None."""
        if not self._local(pc, 4):
            return Step(self._enter_trap(pc, 0, Cause.FETCH_FAULT, pc), predicted="fetch outside local memory")
        f = isa.fields(word)
        op, f3 = f["opcode"], f["funct3"]
        illegal = None
        if word & 3 != 3:
            illegal = "compressed encoding (no C extension)"
        elif op == _AMO:
            illegal = "atomic (no A extension)"
        elif op == isa.SYSTEM and f3 == 0 and word not in (isa.ECALL, isa.EBREAK, isa.MRET, isa.WFI):
            illegal = "privileged instruction of another mode"
        elif op == isa.SYSTEM and f3 & 3 and not isa.implemented(word):
            illegal = f"CSR {f['csr']:#x} not implemented"
        if illegal:
            return Step(self._enter_trap(pc, word, Cause.ILLEGAL, word), predicted=illegal)
        if op in (isa.LOAD, isa.STORE) and isa.implemented(word):
            store = op == isa.STORE
            address = (self.x(f["rs1"]) + (f["imm_s"] if store else f["imm_i"])) & MASK
            size = 1 << (f3 & 3)
            if address % size:
                cause = Cause.STORE_MISALIGNED if store else Cause.LOAD_MISALIGNED
                return Step(self._enter_trap(pc, word, cause, address), predicted="misaligned access")
            window = CORE_LOCAL.base <= address < CORE_LOCAL.base + CORE_LOCAL.size
            if store and size < 4 and not window:
                return Step(self._enter_trap(pc, word, Cause.STORE_FAULT, address), predicted="sub-word core-bus store")
        return None

    def step(self) -> Step:
        """Execute the instruction at pc (or trap on it) and say what retired."""
        uc = self.uc
        pc = self.pc
        word = self._word(pc) if self._local(pc, 4) else 0
        predicted = self._predict(pc, word)
        if predicted is not None:
            return predicted
        f = isa.fields(word)
        op, f3, rd = f["opcode"], f["funct3"], isa.destination(word)
        old_rd = self.x(rd)
        csr_step = op == isa.SYSTEM and f3 & 3
        if csr_step:
            operand = f["rs1"] if f3 & 4 else self.x(f["rs1"])
            old_csr = self.csr(f["csr"]) if f["csr"] in _CSR_REGS else 0
        self._exception, self._accesses = None, []
        try:
            uc.emu_start(pc, 0, count=1)
        except UcError as error:
            # A jump out of mapped memory completes, then unicorn fails to fetch the target; the
            # core traps on that fetch, at the next step.
            if not (error.errno == UC_ERR_FETCH_UNMAPPED and self.pc != pc):
                return self._trapped_by_error(pc, word, error)
        if self._exception is not None:
            return self._trapped_by_exception(pc, word)
        new_pc = self.pc
        if op in (isa.JAL, isa.JALR, isa.BRANCH) and new_pc & 3:
            self.set_x(rd, old_rd)  # the jump traps: it writes nothing
            trap = self._enter_trap(pc, word, Cause.FETCH_MISALIGNED, new_pc)
            return Step(trap, predicted="jump to a non-word address (unicorn has C)")
        result = Retirement(pc=pc, insn=word, rd=rd, rd_value=self.x(rd) if rd else 0)
        if self._accesses:
            write, address, size, value = self._accesses[-1]
            mask = (1 << 8 * size) - 1
            if not write:  # the hook comes before the read; memory is as the load found it
                value = int.from_bytes(uc.mem_read(address, size), "little")
            result.mem_valid, result.mem_we, result.mem_addr, result.mem_data = True, write, address, value & mask
        step = Step(result)
        if csr_step:
            csr = f["csr"]
            writes = f3 & 3 == 1 or f["rs1"] != 0
            step.csr, step.csr_funct3, step.csr_operand, step.csr_writes = csr, f3, operand, writes
            if csr in UNMODELLED_CSRS and rd:
                result.rd_value = None
            if writes and csr in _CSR_REGS:
                value = {1: operand, 2: old_csr | operand, 3: old_csr & ~operand}[f3 & 3]
                uc.reg_write(_CSR_REGS[csr], _warl(csr, value, old_csr))
        if word == isa.MRET:
            uc.reg_write(rc.UC_RISCV_REG_MSTATUS, _warl(Csr.MSTATUS, self.csr(Csr.MSTATUS), 0))
        return step

    def _trapped_by_exception(self, pc: int, word: int) -> Step:
        number = self._exception
        if number == _UC_ILLEGAL:
            return Step(self._enter_trap(pc, word, Cause.ILLEGAL, word))
        if number in _UC_ECALLS and word == isa.ECALL:
            return Step(self._enter_trap(pc, word, Cause.ECALL_M, 0))
        raise ReferenceError(f"unicorn raised exception {number} at {pc:#x} ({word:#010x})")

    def _trapped_by_error(self, pc: int, word: int, error: UcError) -> Step:
        f = isa.fields(word)
        if error.errno == UC_ERR_INSN_INVALID and word == isa.EBREAK:
            return Step(self._enter_trap(pc, word, Cause.BREAKPOINT, pc))
        if error.errno in (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED):
            store = f["opcode"] == isa.STORE
            address = (self.x(f["rs1"]) + (f["imm_s"] if store else f["imm_i"])) & MASK
            self.uc.reg_write(rc.UC_RISCV_REG_PC, pc)
            return Step(self._enter_trap(pc, word, Cause.STORE_FAULT if store else Cause.LOAD_FAULT, address))
        if error.errno == UC_ERR_FETCH_UNMAPPED:
            raise ReferenceError(f"unicorn fetched outside its memory at {pc:#x}: the check should have predicted it")
        raise ReferenceError(f"unicorn stopped at {pc:#x} ({word:#010x}): {error}")
