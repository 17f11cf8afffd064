"""Coverage over many runs: the functional model (``func``), RTL code coverage from Verilator
(``rtl``), firmware code coverage from coverage.py (``fw``), the UCIS export (``ucis``), and the
coverage-directed run set of ``make coverage`` (``run``: the command; ``jobs``: its runs; ``tally``: the
bins over a series; ``summary``: its plot and report).

May import: ``sim.host``, ``sim.reports``, ``sim.contract``. Never cocotb or ``sim.tb``.
"""
