"""Verilator builds that make public only the signals the testbench reaches through ``dut``.

cocotb's Verilator runner passes ``--public-flat-rw``: every signal of the design becomes
readable and writable through VPI, so Verilator may optimise none of them away (the 4-CPU
SoC in a bare C++ harness runs about 2.3x slower that way; ``python -m bench.limit``).
Its builds (``public_verilator()``) pass instead a Verilator configuration file (``public.vlt`` in the
build folder) that marks ``public_flat_rw`` only the signals of ``PUBLIC_SIGNALS``.

A signal missing from the list does not exist for cocotb (``dut.cpu0.intc.pending`` raises
AttributeError, ``hasattr`` says False): a new probe of the RTL state goes into the list.
Waveforms are not affected: ``--trace`` records every signal, public or not.

How Verilator matches the entries: ``-module`` is the name of the module *definition*.
Amaranth writes one definition per instance, named by its hierarchical path as an escaped
identifier (``\\lwkt_soc.cpu0.debug ``); Verilator matches it without the backslash and the
trailing space, so ``lwkt_soc.cpu0.debug`` is also the path below the top. ``-var`` is the
signal's name, escaped ones (``\\event ``) likewise unescaped. Both take the wildcards ``*``
(any run of characters, dots included) and ``?`` (exactly one character).
"""

from __future__ import annotations

import functools
from pathlib import Path

from hdl.config import TOPLEVEL

__all__ = ["IPI_GROUP", "PUBLIC_SIGNALS", "VLT_NAME", "public_verilator", "vlt_text"]

#: The file written into the build folder.
VLT_NAME = "public.vlt"

TOP = TOPLEVEL
#: The core ports of one CPU (sim/tb/bus.py, sim/tb/directed/race.py, bench/driver_bench.py).
_CORE_PORTS = ("cyc", "stb", "we", "adr", "dat_w", "dat_r", "ack", "err", "irq")


def _signals(module: str, *names: str) -> tuple[tuple[str, str], ...]:
    return tuple((module, name) for name in names)


#: The IPI group of PUBLIC_SIGNALS: hdl/ipi.py's per-CPU words of sticky flags (sim/tb/testbench.py
#: ipi_error_flags), and the FIFO rows with their written-since-reset bits that
#: sim/tb/directed/isolation.py probes through sim/tb/testbench.py ipi_fifo_state.
IPI_GROUP: tuple[tuple[str, str], ...] = _signals(f"{TOP}.ipi", "wof_*", "roe_*", "sent_*", "got_*", "send", "recv")

#: ``(module, signal)`` pairs in Verilator's wildcard syntax: the only signals cocotb can reach.
PUBLIC_SIGNALS: tuple[tuple[str, str], ...] = (
    # Top-level ports: without a mark Verilator's VPI does not show even these. cpu? and cpu?? are
    # the ports of CPUs 0-9 and 10-31; cpu*__cyc would also take the top's internal cpuN__bus__cyc.
    *_signals(TOP, "clk", "rst", "ext_irq", "dev_post", "dev_data", "stall"),
    *_signals(TOP, *(f"cpu{digits}__{port}" for port in _CORE_PORTS for digits in ("?", "??"))),
    # The SoC's 64-bit cycle counter: sim/tb/directed/isolation.py writes it (CYCLE_HI probes).
    (TOP, "cycle"),
    # sim/tb/testbench.py mplock_owner (the race detector) and mplock_busts, sim/tb/directed/isolation.py probes.
    *_signals(f"{TOP}.mplock", "held", "owner", "err_nonowner", "acquires", "busts"),
    # sim/tb/scenarios/base.py: the DEVICE block's REQUEST bits and its per-line counters.
    *_signals(f"{TOP}.device", "irq", "posted*", "serviced*"),
    # Per-CPU state: sim/tb/directed/isolation.py (probes, EventMonitor), sim/tb/directed/migration.py.
    *_signals(f"{TOP}.cpu*.debug", "curthread", "critdepth", "pri", "event", "event_valid"),
    *_signals(f"{TOP}.cpu*.intc", "enable", "in_service", "soft", "prio*"),
    *_signals(f"{TOP}.cpu*.timer", "compare", "period", "enable", "armed", "pending"),
    (f"{TOP}.cpu*.sys", "cycle_hi"),
    # --- IPI group (above) ---
    *IPI_GROUP,
)


def vlt_text(signals=PUBLIC_SIGNALS) -> str:
    """The Verilator configuration file that marks ``signals`` public (read and write)."""
    lines = [
        "`verilator_config",
        "// Written by sim/host/verilator.py from PUBLIC_SIGNALS: the only signals cocotb can reach.",
    ]
    lines += [f'public_flat_rw -module "{module}" -var "{name}"' for module, name in signals]
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
    """A cocotb runner for Verilator whose builds make public only ``PUBLIC_SIGNALS``."""
    return _runner_class()()
