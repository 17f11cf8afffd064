"""Which files ``python -m sim.mutation`` mutates by default, and why the others are not.

The kernel (``firmware/*.py``): every module whose code is the kernel's behaviour, which the kill
suite judges (device, intr, ipiq, lwkt, shared, smp, smp_sync, system, thread, watchdog). Not:

- ``bugs.py``: the planted-bug catalogue, another mutation mechanism.
- ``builds.py``: the names of the two builds, for the host.
- ``cost_model.py``: the cycles each kernel operation costs. Timing, not function: the checks
  judge what the kernel does, not how long it takes.
- ``frames.py``: which kernel function a thread is in (for the interrupt-landing statistics and
  coverage bins) and the charging of the cost model: bookkeeping and timing, as above.
- ``core.py``: the core protocol, signatures without code.
- ``panic.py``: how a panic is recorded for the report; a panic's cause is mutated where it is.
- ``ram_layout.py``: the shared-RAM layout, which the kernel and its oracle (the race detector,
  ``sim/tb/race.py``) both read: a mutant there moves the design and the check together.
- ``__init__.py``: empty.

The RTL (``hdl/*.py``): the blocks and their wiring (bus, debug, device, intc, ipi, mplock, ram,
route, soc, sysinfo, tile, timer). Not:

- ``mutants.py``: the hardware mutant catalogue, another mutation mechanism.
- ``config.py``: the validation of ``SocConfig``'s parameters, plain Python and no hardware.
- ``memory_map.py``, ``register_model.py``: the register contract, which the tests, the bus
  driver and the generated docs read as the oracle: a mutant there moves both sides.
- ``probe.py``, ``probe_map.py``: the verification's names for internal signals.
- ``verilog.py``: the conversion to Verilog, a tool rather than the design.
- ``rv32/``: the RV32 core is not in the SoC yet (docs/rv32.md), so neither kill suite runs it;
  ``--files 'hdl/rv32/*.py'`` selects it all the same.
- ``__init__.py``: empty.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_GLOBS", "EXCLUDED", "default_files", "select_files"]

#: The folders mutated by default (one level: ``hdl/rv32/`` is not matched).
DEFAULT_GLOBS = ("firmware/*.py", "hdl/*.py")
#: Files under DEFAULT_GLOBS that are not mutated by default (the docstring says why).
EXCLUDED = frozenset(
    {
        "firmware/__init__.py",
        "firmware/bugs.py",
        "firmware/builds.py",
        "firmware/cost_model.py",
        "firmware/frames.py",
        "firmware/core.py",
        "firmware/panic.py",
        "firmware/ram_layout.py",
        "hdl/__init__.py",
        "hdl/mutants.py",
        "hdl/config.py",
        "hdl/memory_map.py",
        "hdl/register_model.py",
        "hdl/probe.py",
        "hdl/probe_map.py",
        "hdl/verilog.py",
    }
)


def select_files(root: Path, globs: list[str] | tuple[str, ...]) -> list[Path]:
    """The Python files under ``root`` that match any of ``globs`` (relative to ``root``, or absolute
    under it), sorted; ValueError for an absolute pattern outside ``root``."""
    root = Path(root).resolve()
    found = set()
    for pattern in globs:
        if Path(pattern).is_absolute():
            try:
                pattern = Path(pattern).resolve().relative_to(root).as_posix()
            except ValueError:
                raise ValueError(f"{pattern} is not under {root}") from None
        found.update(path for path in root.glob(pattern) if path.suffix == ".py" and path.is_file())
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def default_files(root: Path) -> list[Path]:
    """The kernel and RTL modules mutated when no ``--files`` is given."""
    root = Path(root).resolve()
    return [p for p in select_files(root, DEFAULT_GLOBS) if p.relative_to(root).as_posix() not in EXCLUDED]
