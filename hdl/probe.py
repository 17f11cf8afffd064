"""A probe: an internal signal of a block that the verification reaches by its name.

Each block declares its probes as ``PROBES``, a tuple on its class (hdl/mplock.py, hdl/ipi.py ...);
hdl/probe_map.py places them in the SoC. A probe is *public* when the simulator must reach it
(the Verilator build makes only public probes visible to cocotb, sim/host/verilator.py), and
*private* when only the formal harnesses and the waveform viewer read it (they see every signal).

A name with a ``{k}`` (any one letter in braces) is a family, one signal per number:
``prio{k}`` is ``prio0``, ``prio1`` ...
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Probe", "UndeclaredProbe", "declared", "find", "placeholders", "private", "public", "regex", "where"]

_PLACEHOLDER = re.compile(r"\{([a-z])\}")


class UndeclaredProbe(LookupError):
    """A name no block declares, or a private probe asked for where only public ones reach."""


@dataclass(frozen=True)
class Probe:
    """``name`` in the block's own scope, whether the simulator reaches it, and why it is named."""

    name: str
    public: bool
    why: str

    def matches(self, name: str) -> bool:
        """Whether ``name`` (``prio3``) is this probe, or one of its family."""
        return regex(self.name).fullmatch(name) is not None


def public(name: str, why: str) -> Probe:
    """A probe the simulator reaches (and the formal harnesses and waveforms too)."""
    return Probe(name, True, why)


def private(name: str, why: str) -> Probe:
    """A probe only the formal harnesses and the waveform viewer read."""
    return Probe(name, False, why)


def placeholders(template: str) -> list[str]:
    """The placeholders of ``template`` in order: ``cpu{c}.intc.prio{k}`` -> ``["c", "k"]``."""
    return _PLACEHOLDER.findall(template)


@functools.cache
def regex(template: str) -> re.Pattern:
    """The names ``template`` stands for, one group per placeholder (a decimal number, as the
    blocks write indices into names)."""
    parts = _PLACEHOLDER.split(template)
    text = "".join(re.escape(part) if i % 2 == 0 else r"(\d+)" for i, part in enumerate(parts))
    return re.compile(text)


def find(probes: tuple[Probe, ...], name: str) -> Probe | None:
    """The probe of ``probes`` that ``name`` is (itself or a member of its family), or None."""
    return next((p for p in probes if p.matches(name)), None)


def where(block: type) -> str:
    """Where ``block`` declares its probes, for error messages."""
    return f"{block.__name__}.PROBES ({block.__module__.replace('.', '/')}.py)"


def declared(block: type, name: str) -> Probe:
    """``block``'s probe that ``name`` is (``prio3`` is ``prio{k}``); UndeclaredProbe if none."""
    probe = find(getattr(block, "PROBES", ()), name)
    if probe is None:
        raise UndeclaredProbe(f"{name!r} is not a probe of {block.__name__}: declare it in {where(block)}")
    return probe
