"""Code that runs inside the simulator, under cocotb.

The entry point of a run is ``run_program`` (the cocotb test module ``lwkt-soc run`` starts), of the
smoke test ``smoke_program``. Below it: ``testbench`` (clock, reset, one bus master per core),
``bus`` (the master driver), ``cycles`` and ``signals`` (fast waits and reads), ``cpu`` (the core
protocol the firmware runs on), ``machine`` (cores, boot, run to the end), ``race`` (the shared-RAM
race detector), ``faults`` (the testbench's fault injectors), ``scenarios`` (the named workloads),
``fw_coverage`` (coverage.py over the firmware while it runs).

May import: cocotb, ``firmware``, ``hdl`` and ``sim.contract``. Nothing of the host layers.
"""
