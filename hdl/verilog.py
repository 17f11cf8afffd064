"""Conversion of the SoC to Verilog."""
from amaranth.back import verilog

from .config import SocConfig
from .soc import LwktSoc, TOPLEVEL

__all__ = ["soc_verilog"]


def soc_verilog(config: SocConfig) -> str:
    """Verilog text of the SoC in ``config``; the top module is ``lwkt_soc``."""
    soc = LwktSoc(config)
    return verilog.convert(soc, name=TOPLEVEL, emit_src=False)
