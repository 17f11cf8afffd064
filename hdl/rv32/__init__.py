"""An RV32IM + Zicsr core, machine mode only, one per CPU (docs/rv32.md).

``core`` sequences the blocks of the other modules: ``decoder`` (what an instruction is),
``alu`` (integer operations and branch conditions), ``multiplier``, ``divider``, ``regfile``,
``csr`` (the machine CSRs, traps, counters), ``lsu`` (where an access goes and its byte lanes),
``local_memory`` (the core's code and private data) and ``retire`` (the retirement port's
signature). ``isa`` holds the encodings as plain data, for the hardware and for the checks.

May import: amaranth, and ``hdl.bus`` / ``hdl.probe`` / ``hdl.memory_map``. Nothing else of the project.
"""
