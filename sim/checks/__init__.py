"""The run-time checkers: what judges a run while it runs, apart from the kernel it judges.

The kernel (``firmware/``) only emits: trace records, and tracepoints with the facts a check needs
(``firmware/system.py`` ``CHECK_POINTS``). Here the scheduling scoreboard (``scoreboard``, also
used offline by ``lwkt-soc check``), the IPI, token, wait, MP-lock and stopped-CPU checkers
(``checkers``) and the latency figures (``stats``) subscribe to them; ``run_checks`` wires them to
a System and gives the end-of-run checks and figures. A violation stops the run as a panic on the
CPU that caused it.

The RV32 core's reference check lives here too: ``rv32_reference`` (unicorn as the reference CPU)
and ``rv32_lockstep`` (the comparator of retirements), which also read ``hdl.rv32.isa`` (data only)
and import unicorn and capstone.

May import: the standard library, ``firmware`` and ``sim.contract``. Never cocotb, nor the host
packages, so both the simulator side and the host's offline checks can use it.
"""
