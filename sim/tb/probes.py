"""The SoC's internal signals as cocotb handles, by their declared path below the top.

Only probes hdl/probe_map.py declares public reach the testbench: a Verilator build makes no
other signal visible (sim/host/verilator.py), so a path that is not declared, or declared
private, is refused here on every simulator rather than working on Icarus alone.
"""

from __future__ import annotations

from hdl.probe_map import UndeclaredProbe, lookup

__all__ = ["Probes", "UndeclaredProbe", "check_public"]


def check_public(signal_path: str) -> None:
    """Raise UndeclaredProbe unless ``signal_path`` (``cpu0.debug.curthread``) is a public probe."""
    placed = lookup(signal_path)
    if not placed.public:
        raise UndeclaredProbe(
            f"{signal_path!r} is a private probe of {placed.block.__name__}: the simulator cannot reach it; "
            f"make it public in {placed.block.__name__}.PROBES if the testbench needs it"
        )


class Probes:
    """``probes("mplock.owner")`` is ``dut.mplock.owner``, once the path is checked (handles are kept)."""

    def __init__(self, dut):
        self._dut = dut
        self._handles: dict[str, object] = {}

    def __call__(self, signal_path: str):
        handle = self._handles.get(signal_path)
        if handle is None:
            check_public(signal_path)
            handle = self._dut
            for step in signal_path.split("."):
                handle = getattr(handle, step)
            self._handles[signal_path] = handle
        return handle

    def exists(self, signal_path: str) -> bool:
        """Whether this build has the public probe ``signal_path`` (``device.posted3`` needs 4 lines)."""
        try:
            self(signal_path)
        except AttributeError:
            return False
        return True
