"""Reading a run folder: the report (``report``, ``run_files``), the timeline picture
(``timeline``), GTKWave save files (``gtkwave``), trace comparison (``tracediff``), the offline
scoreboard check (``check``) and the RAM-layout document (``ramdoc``).

May import: ``sim.contract``, ``hdl``, ``firmware`` (data only). Never cocotb or ``sim.tb``.
"""
