"""The kernel's two builds: ``up`` runs seed v1.12 on one core, ``smp`` runs v1.18 on every core.

A plain module of names, so that the host (``lwkt-soc run --mode``, the trace checker) can offer
them without importing the kernel.
"""

from __future__ import annotations

__all__ = ["MODES"]

MODES = ("up", "smp")
