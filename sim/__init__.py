"""The simulation side of lwkt-soc, in layers (docs/architecture.md draws them).

Each subpackage says in its own docstring what lives there and what it may import;
``pyproject.toml``'s import-linter contracts enforce it in CI.

- ``sim.contract``  what a run is, as both sides of it see it: run.json, the run folder, the trace
  format, exit codes, the catalogue of scenarios and faults, workload specs, coverage bins.
- ``sim.tb``        code that runs inside the simulator, under cocotb: bus driver, CPU model,
  machine, scenarios, fault injectors, race detector.
- ``sim.reports``   reading a run folder: report, timeline, waves, trace comparison, check.
- ``sim.host``      one run on the host: build the SoC, start the simulator, watch it.
- ``sim.coverage``  functional, RTL and firmware code coverage over many runs.
- ``sim.campaigns`` many runs: campaign files, the Dask engine, results database, stress,
  shrinking, mutants.
- ``sim.cli``       the ``lwkt-soc`` command.
- ``sim.mutation``  source mutants of the kernel and the RTL, and the hook that loads one into a
  process: the lowest layer, standard library only.

The host layers (everything but ``sim.tb``) never import cocotb or ``sim.tb``: they start the
simulator, which imports ``sim.tb.run_program`` by name.
"""
