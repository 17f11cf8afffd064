"""One run on the host: build the SoC (``build``), start the simulator on it (``runner``,
``verilator``), run a scenario into its folder and report it (``run``), stop it cleanly on a signal
(``interrupt``), name the tools (``toolchain``), and the smoke test (``smoke``). For the RV32 core:
compile its programs (``rv32_toolchain``), generate random ones (``rv32_random``), run it under
amaranth.sim in lockstep with the reference (``rv32_sim``).

May import: ``sim.reports``, ``sim.contract``, ``hdl``, ``firmware`` (data only). Never cocotb or
``sim.tb``: the simulator imports the simulator side by module name.
"""
