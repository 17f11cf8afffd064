"""What a run is, as both sides of it see it: the host that starts it and the simulator that runs it.

The run configuration (``config``, written as run.json; the simulators and defaults), its options, repeat
command and campaign record (``run_options``: one table of its fields), a request made concrete
(``resolve``: the scenario's defaults and the rules of a run), the run folder's files (``outdir``), the
trace record format and clock (``trace``), exit codes and error kinds (``errors``), the catalogue
of scenarios and faults (``catalogue``), random workload specs (``random_spec``, ``spec_check``),
the hardware coverage bins (``hw_coverage``), where the project's files are (``paths``), and the RV32
core's instruction words (``rv32_isa``) and program images (``rv32_image``).

May import: the standard library, ``hdl`` and ``firmware`` (data only). Never cocotb, nor any other
``sim`` package.
"""
