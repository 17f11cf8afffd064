"""The registry of formal harnesses: block name -> harness class, in report order."""

from __future__ import annotations

import importlib

__all__ = ["BLOCKS", "harness"]

#: block name -> "module:Class" of its harness (imported on use).
BLOCKS: dict[str, str] = {
    "mplock": "formal.mplock:MpLockHarness",
    "ipi-fifo": "formal.ipi:IpiFifoHarness",
    "ipi-matrix": "formal.ipi:IpiMatrixHarness",
    "intc": "formal.intc:IntcHarness",
    "decoder": "formal.tile:DecoderHarness",
    "isolation": "formal.isolation:IsolationHarness",
    "noninterference": "formal.noninterference:NonInterferenceHarness",
    "reset": "formal.reset:ResetHarness",
    "arbiter": "formal.arbiter:ArbiterHarness",
    "timer": "formal.timer:TimerHarness",
    "route": "formal.route:RouteHarness",
    "device": "formal.device:DeviceHarness",
    "sysinfo": "formal.sysinfo:SysInfoHarness",
    "ram": "formal.ram:RamHarness",
}


def harness(name: str):
    """The harness class of block ``name``."""
    module, cls = BLOCKS[name].split(":")
    return getattr(importlib.import_module(module), cls)
