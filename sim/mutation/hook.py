"""Load one source mutant into a process at import time.

:func:`install` puts a finder first on ``sys.meta_path`` that answers for one module only, the
mutant's (``firmware/ipiq.py`` is ``firmware.ipiq``), and loads it from the mutated source,
compiled under the real file name: the mutant keeps every line number, so tracebacks, coverage
and the kernel's panic records point at the right lines. Every other import is untouched.

It must run before anything imports that module, or the process would silently run the
original code: :func:`install` refuses then. A campaign's worker sets :data:`MUTANT_ENV` and calls
:func:`install_from_environment` first thing.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

from .operators import mutated_source, parse_id

__all__ = ["MUTANT_ENV", "MutantFinder", "install", "install_from_environment", "module_name", "uninstall"]

#: The environment variable that names the source mutant a process runs with.
MUTANT_ENV = "LWKT_SOURCE_MUTANT"


def module_name(file: str) -> str:
    """The dotted module name of a file relative to the root (``hdl/ipi.py`` is ``hdl.ipi``)."""
    parts = Path(file).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, filename: str, source: str):
        self.filename, self.source = filename, source

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        code = compile(self.source, self.filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname: str) -> str:
        return self.source


class MutantFinder(importlib.abc.MetaPathFinder):
    """Finds one module, the mutant's, and loads it from the mutated source."""

    def __init__(self, mutant_id: str, module: str, path: Path, source: str):
        self.mutant_id, self.module, self.path = mutant_id, module, path
        self.loader = _MutantLoader(str(path), source)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.module:
            return None
        package = self.path.name == "__init__.py"
        spec = importlib.util.spec_from_file_location(
            fullname,
            self.path,
            loader=self.loader,
            submodule_search_locations=[str(self.path.parent)] if package else None,
        )
        spec.cached = None  # no bytecode cache: it would be the original's
        return spec


def install(mutant_id: str, root: Path) -> None:
    """Make the next import of the mutant's module load the mutated source.

    ValueError for an unknown or stale id (the file changed since the id was made); RuntimeError
    if the module is already imported (too late: the original code would run) or another
    mutant is installed in this process (one mutant per process). Installing the same mutant
    again does nothing.
    """
    file = parse_id(mutant_id)[0]
    module = module_name(file)
    for finder in sys.meta_path:
        if isinstance(finder, MutantFinder):
            if finder.mutant_id == mutant_id:
                return
            raise RuntimeError(f"mutant {finder.mutant_id} is installed already: one mutant per process")
    if module in sys.modules:
        raise RuntimeError(f"{module} is imported already: install the mutant {mutant_id} before anything imports it")
    source = mutated_source(mutant_id, Path(root))
    sys.meta_path.insert(0, MutantFinder(mutant_id, module, (Path(root) / file).resolve(), source))


def install_from_environment(root: Path) -> str | None:
    """:func:`install` the mutant that :data:`MUTANT_ENV` names; the id, or None when it is unset."""
    mutant_id = os.environ.get(MUTANT_ENV, "").strip()
    if not mutant_id:
        return None
    install(mutant_id, root)
    return mutant_id


def uninstall() -> None:
    """Take every mutant finder off ``sys.meta_path`` (a module already loaded stays mutated)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MutantFinder)]
