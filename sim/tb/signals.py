"""Integer access to a port signal, for the bus driver's hot path.

``handle.value`` builds a ``Logic``/``LogicArray`` on every read and, on every
write, range-checks the value and (for a 1-bit signal) turns it into a
string. The bus driver reads and writes a handful of port signals per access,
and ``make bench`` measured these conversions at 2 to 5 us each: the largest
Python cost of a bus access. :class:`PortSignal` reads and writes plain
integers through the simulator object under the handle (``handle._handle`` in
cocotb 2.1; ``pyproject.toml`` pins cocotb below 2.2), and skips writes that
would not change the value.

Writes are deposits applied at once, which is what cocotb itself does on a
simulator whose inertial writes it trusts (Verilator). On Icarus cocotb would
hold them to the end of the time step; the bus driver writes only while the
clock is low, when no logic of the SoC samples its inputs, so both give the
same result (the cross-simulator trace tests check it).
"""

from __future__ import annotations

from functools import partial

__all__ = ["PortSignal"]

_DEPOSIT = 0  # cocotb's GPI "deposit" action


class PortSignal:
    """One signal of a port, read and written as an integer.

    The owner must be the only writer of the signal: the value last written
    is remembered and an equal write is skipped. :meth:`reset` forgets it.
    """

    __slots__ = ("handle", "get", "_write", "_last")

    def __init__(self, handle):
        self.handle = handle
        raw = getattr(handle, "_handle", None)
        width = len(handle)
        if (
            width <= 32
            and raw is not None
            and hasattr(raw, "get_signal_val_long")
            and hasattr(raw, "set_signal_val_int")
        ):
            read = raw.get_signal_val_long
            if width < 32:
                self.get = read
            else:  # Icarus returns a 32-bit value signed
                self.get = lambda: read() & 0xFFFF_FFFF
            self._write = partial(raw.set_signal_val_int, _DEPOSIT)
        else:  # another cocotb: the public, slower path
            self.get = lambda: int(handle.value)
            self._write = partial(setattr, handle, "value")
        self._last: int | None = None

    def set(self, value: int) -> None:
        if value != self._last:
            self._write(value)
            self._last = value

    def reset(self, value: int) -> None:
        """Write ``value`` whatever was written before (someone else may have driven the signal)."""
        self._write(value)
        self._last = value
