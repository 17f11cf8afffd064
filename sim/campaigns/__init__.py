"""Many runs: campaign files and their expansion (``campaign``), the Dask engine
(``regress``), the results database and its queries (``results_db``, ``results``), the source
revision runs are recorded at (``revision``), the stress matrix (``stress``), shrinking a failing
workload (``shrink``), and the planted-bug campaigns (``mutants``, ``hw_mutants``).

May import: ``sim.coverage``, ``sim.host``, ``sim.reports``, ``sim.contract``. Never cocotb or
``sim.tb``.
"""
