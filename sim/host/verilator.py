"""Verilator builds that make public only the signals the testbench reaches through ``dut``.

cocotb's Verilator runner passes ``--public-flat-rw``: every signal of the design becomes
readable and writable through VPI, so Verilator may optimise none of them away (the 4-CPU
SoC in a bare C++ harness runs about 2.3x slower that way; ``python -m bench.limit``).
Its builds (``public_verilator()``) pass instead a Verilator configuration file (``public.vlt`` in the
build folder) that marks ``public_flat_rw`` only the public probes of hdl/probe_map.py
(:func:`public_signals`).

A signal not declared public there does not exist for cocotb (``dut.cpu0.intc.pending`` raises
AttributeError, ``hasattr`` says False): a new probe of the RTL state is declared in its block's
``PROBES`` (docs/architecture.md). Waveforms are not affected: ``--trace`` records every signal.

How Verilator matches the entries: ``-module`` is the name of the module *definition*.
Amaranth writes one definition per instance, named by its hierarchical path as an escaped
identifier (``\\lwkt_soc.cpu0.debug ``); Verilator matches it without the backslash and the
trailing space, so ``lwkt_soc.cpu0.debug`` is also the path below the top. ``-var`` is the
signal's name, escaped ones (``\\event ``) likewise unescaped. Both take the wildcards ``*``
(any run of characters, dots included) and ``?`` (exactly one character).
"""

from __future__ import annotations

import functools
import re
from fnmatch import fnmatchcase
from pathlib import Path

from hdl.config import TOPLEVEL
from hdl.probe import placeholders

__all__ = ["VLT_NAME", "public_signals", "public_verilator", "vlt_text"]

#: The file written into the build folder.
VLT_NAME = "public.vlt"


def _module(instance: str) -> str:
    """The module definitions of an instance template: every CPU's at once."""
    return f"{TOPLEVEL}.{instance.replace('{c}', '*')}" if instance else TOPLEVEL


def _vars(name: str) -> tuple[str, ...]:
    """A probe's name as Verilator patterns. A number at the end is ``*``; one inside is ``?`` and
    ``??`` (CPUs 0-9 and 10-31), since ``cpu*__cyc`` would also take the top's internal cpuN__bus__cyc."""
    count = len(placeholders(name))
    if count == 0:
        return (name,)
    if count == 1 and name.endswith("}"):
        return (name[: name.rindex("{")] + "*",)
    return tuple(re.sub(r"\{[a-z]\}", digits, name) for digits in ("?", "??"))


@functools.cache
def public_signals() -> tuple[tuple[str, str], ...]:
    """``(module, signal)`` pairs in Verilator's wildcard syntax: the only signals cocotb can reach.

    A pair an earlier one already covers is left out: ``sent_*`` takes ``sent_to_*`` along (both
    are declared public).
    """
    # The table imports the blocks, so Amaranth (0.2 s): only what starts a run pays for it.
    from hdl.probe_map import SOC_PROBES

    pairs: list[tuple[str, str]] = []
    for placed in SOC_PROBES:
        if not placed.public:
            continue
        for var in _vars(placed.probe.name):
            pair = (_module(placed.instance), var)
            if not any(fnmatchcase(pair[0], m) and fnmatchcase(pair[1], v) for m, v in pairs):
                pairs.append(pair)
    return tuple(pairs)


def vlt_text(signals=None) -> str:
    """The Verilator configuration file that marks ``signals`` (default: :func:`public_signals`) public."""
    lines = [
        "`verilator_config",
        "// Written by sim/host/verilator.py from hdl/probe_map.py: the only signals cocotb can reach.",
    ]
    pairs = public_signals() if signals is None else signals
    lines += [f'public_flat_rw -module "{module}" -var "{name}"' for module, name in pairs]
    return "\n".join(lines) + "\n"


@functools.cache
def _runner_class():
    # cocotb_tools.runner takes 0.15 s to import: only builds pay it, not every importer of sim.host.build.
    from cocotb_tools.runner import Verilator

    class PublicVerilator(Verilator):
        """cocotb's Verilator runner with ``--public-flat-rw`` replaced by ``public.vlt``."""

        def _build_command(self):
            commands = super()._build_command()
            verilate = commands[0]
            vlt = Path(self.build_dir) / VLT_NAME
            vlt.write_text(vlt_text())
            # In the flag's place, so the configuration precedes the Verilog it applies to. A cocotb
            # that no longer passes the flag gets the file after --vpi, which it always needs.
            if "--public-flat-rw" in verilate:
                verilate[verilate.index("--public-flat-rw")] = str(vlt)
            else:
                verilate.insert(verilate.index("--vpi") + 1, str(vlt))
            return commands

    return PublicVerilator


def public_verilator():
    """A cocotb runner for Verilator whose builds make public only :func:`public_signals`."""
    return _runner_class()()
