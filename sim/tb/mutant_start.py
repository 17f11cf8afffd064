"""Imported first by a simulator whose run meets a generated mutant of the sources (``sim/host/runner.py``
puts it before the run's modules): loads the mutated module in place of the real one before anything
imports it (``sim/mutation/hook.py``). It holds no test."""

from sim.contract.config import RunConfig
from sim.contract.paths import PROJECT_ROOT
from sim.mutation.hook import install

install(RunConfig.from_environment().source_mutant, PROJECT_ROOT)
