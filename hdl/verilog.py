"""Conversion of the SoC to Verilog."""

import re

from amaranth.back import rtlil

from .config import SocConfig
from .soc import LwktSoc, TOPLEVEL

__all__ = ["soc_verilog"]

_AUTO_TRIGGER = re.compile(r"\\\$auto\$verilog_backend\.cc:\d+:dump_module\$(\d+) ")


def soc_verilog(config: SocConfig) -> str:
    """Verilog text of the SoC in ``config``; the top module is ``lwkt_soc``.

    Like ``amaranth.back.verilog.convert`` but without ``write_verilog -norename``:
    Yosys's anonymous ``$``-wires become ``_N_``, which Verilator leaves out of
    its traces, so waveforms show the design's named signals only. The IPI
    matrix's memories have no initial contents (see below).
    """
    # Amaranth's bundled Yosys; the finder is internal to Amaranth 0.5 (pinned).
    from amaranth._toolchain.yosys import find_yosys

    text = rtlil.convert(LwktSoc(config), name=TOPLEVEL, emit_src=False)
    yosys = find_yosys(lambda version: version >= (0, 40))
    script = "\n".join(
        [
            f"read_rtlil <<rtlil\n{text}\nrtlil",
            "proc -nomux -norom",
            # The IPI matrix's memories need no initial contents: a row reads as 0 until it is written
            # (hdl/ipi.py's valid bits). Left in, their zero words are most of the Verilog's size.
            f"delete {TOPLEVEL}.ipi/t:$meminit_v2",
            "memory_collect",
            "attrmap -remove generator -remove top -remove src -remove amaranth.hierarchy -remove amaranth.decoding",
            "attrmap -modattr -remove generator -remove top -remove src -remove amaranth.hierarchy "
            "-remove amaranth.decoding",
            "write_verilog",
        ]
    )
    verilog = yosys.run(["-q", "-"], script, ignore_warnings=True)
    # Yosys's start-up trigger registers for always @* blocks have names like
    # "\\$auto$verilog_backend.cc:2355:dump_module$7" that GTKWave cannot parse in a
    # VCD; a leading underscore also keeps them out of Verilator's traces.
    return _AUTO_TRIGGER.sub(lambda m: f"_yosys_trigger_{m.group(1)} ", verilog)
