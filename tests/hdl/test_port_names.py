"""Every block's interface signals carry its name (hdl/bus.py ``prefix_member_names``), so that a
waveform or the Verilog shows ``cpu0__mplock__req`` where a connection is, not ``req$57``."""

import re

import pytest

from hdl.config import SocConfig
from hdl.verilog import soc_verilog

#: Block instance -> the prefix its ports carry, and the ports that are not its interface's.
BLOCKS = {
    "ipi": ("ipi", set()),
    "mplock": ("mplock", {"active"}),
    "route": ("route", set()),
    "ram": ("ram", {"read_port__addr", "write_port__data"}),  # its memory's own ports
    "device": ("device", {"irq"}),
    "cpu0": ("cpu0", {"intc__src_ext", "sys__cycle"}),  # wires of its blocks the SoC drives
    "cpu1.intc": ("intc", {"irq"}),
    "cpu1.timer": ("timer", {"pending"}),
    "cpu1.sys": ("sys", set()),
    "cpu1.debug": ("debug", set()),
}
_PLAIN = {"clk", "rst"}


@pytest.fixture(scope="module")
def modules():
    """Each module of a 2-CPU SoC's Verilog: its name -> its port names."""
    text = soc_verilog(SocConfig(ncpu=2))
    found = {}
    for name, ports in re.findall(r"^module \\?(\S+)\s*\(([^;]*)\);", text, re.M):
        found[name] = {p.strip() for p in ports.split(",") if p.strip()}
    return found


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_a_blocks_ports_carry_its_name(modules, block):
    prefix, kept = BLOCKS[block]
    ports = modules[f"lwkt_soc.{block}"]
    stray = sorted(p for p in ports - _PLAIN - kept if not p.startswith(f"{prefix}__"))
    assert ports and not stray, f"lwkt_soc.{block}: ports without the {prefix}__ prefix: {stray[:8]}"
