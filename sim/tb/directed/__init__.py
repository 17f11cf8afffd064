"""The directed cocotb modules: the kernel's and the register contract's own tests, run inside the
simulator like a scenario but written as cocotb tests that reach exact windows (an interrupt at a
given instruction of lwkt_switch, a BUST at a given cycle, every illegal address of every block).

``sim/contract/directed.py`` says which module runs on which SoC for the tests, ``make mutants``
and ``make coverage``; each module reads its run.json (``RunConfig.from_environment()``).
``kernel_helpers`` is shared by the kernel's modules and holds no test.
"""
