"""Source mutants of the kernel and the RTL, for mutation qualification of the verification.

Every mutant of a fixed set of operators over a Python module (``operators``: the operators, the
ids, what is never mutated and why; ``sites``, ``walker``, ``text``, ``exclusions``: how they are
found and kept compilable), the files mutated by default (``targets``), loading one mutant into
a process at import time (``hook``), a stratified sample with its statistics (``sample``), and
``python -m sim.mutation`` (``cli``). docs/mutation-generator.md has the tables.

The lowest layer of ``sim``: it imports only the standard library (it reads ``firmware/`` and
``hdl/`` as text, never imports them), so the hook can be installed before anything else loads.
"""

from .hook import MUTANT_ENV, install, install_from_environment, uninstall
from .operators import OPERATORS, Mutant, generate, mutated_source, parse_id
from .sample import sample_size, stratified_sample, wilson_interval
from .targets import default_files

__all__ = [
    "OPERATORS",
    "Mutant",
    "generate",
    "mutated_source",
    "parse_id",
    "MUTANT_ENV",
    "install",
    "install_from_environment",
    "uninstall",
    "stratified_sample",
    "sample_size",
    "wilson_interval",
    "default_files",
]
