"""Counterexamples: read the VCD yosys-smtbmc writes (pywellen), print its signals, write a GTKWave save
file (pyvcd).

yosys-smtbmc puts step s at time 10*s (a clock edge at 10*s+5 is not a step), with the
harness's own signals in scope ``top`` and each block under ``top.<submodule>``.
"""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["read_steps", "format_signals", "write_save_file"]

_STEP = 10  # VCD time units per solver step


def read_steps(vcd: Path) -> tuple[dict[str, int], list[dict[str, int]]]:
    """``(widths, steps)``: the width of each ``scope.name`` wire and its value at every step.

    Read with pywellen. A step's value is the last change at or before it (a change at 10*s+5, the
    clock's falling edge, belongs to step s); an unknown value (x, z) reads as 0."""
    import pywellen

    wave = pywellen.Waveform(str(vcd))
    wires = [var for var in wave.all_vars() if str(var.var_type) == "Wire"]
    widths = {var.full_name: int(var.bitwidth or 1) for var in wires}
    changes = {var.full_name: list(var.tv) for var in wires}
    last = max((time for var in wave.all_vars() for time, _ in var.tv), default=0)
    steps: list[dict[str, int]] = [{} for _ in range(last // _STEP + 1)]
    for name, tv in changes.items():
        for i, (time, value) in enumerate(tv):
            until = tv[i + 1][0] // _STEP if i + 1 < len(tv) else len(steps)
            for s in range(time // _STEP, until):
                steps[s][name] = value if isinstance(value, int) else 0
    return widths, steps


def format_signals(vcd: Path, step: int, *, scope: str = "top") -> list[str]:
    """Lines describing the counterexample: the free inputs at every step up to ``step``,
    then every other signal of ``scope`` (the harness) at ``step``."""
    widths, steps = read_steps(vcd)
    step = min(step, len(steps) - 1)
    own = sorted(n for n in widths if n.count(".") == 1 and n.startswith(scope + "."))
    inputs = [n for n in own if n.split(".")[1].startswith("f_")]
    lines = []
    for s in range(step + 1):
        shown = " ".join(f"{n.split('.')[1][2:]}={steps[s].get(n, 0):#x}" for n in inputs)
        lines.append(f"step {s} inputs: {shown}")
    rest = [n for n in own if n not in inputs and n.split(".")[1] not in ("clk", "rst")]
    shown = " ".join(f"{n.split('.')[1]}={steps[step].get(n, 0):#x}" for n in rest)
    lines.append(f"step {step} state: {shown}")
    return lines


def write_save_file(vcd: Path, save: Path, step: int, *, scope: str = "top") -> Path:
    """A GTKWave save file (pyvcd's ``vcd.gtkw``) that opens ``vcd`` with the harness's signals, free
    inputs first, the primary marker on the failing ``step``."""
    from vcd.gtkw import GTKWSave

    vcd, save = Path(vcd).resolve(), Path(save).resolve()
    widths, _ = read_steps(vcd)
    text = io.StringIO()
    gtkw = GTKWSave(text)
    gtkw.comment("lwkt-soc formal counterexample (formal/cex.py)")
    gtkw.dumpfile(str(vcd))
    gtkw.savefile(str(save))
    gtkw.timestart(0)
    gtkw.zoom_markers(-4.0, step * _STEP)
    gtkw.treeopen(scope)
    own = sorted(n for n in widths if n.count(".") == 1 and n.startswith(scope + "."))
    for name in [n for n in own if ".f_" in n] + [n for n in own if ".f_" not in n]:
        width = widths[name]
        gtkw.trace(f"{name}[{width - 1}:0]" if width > 1 else name, datafmt="hex" if width > 1 else "bin")
    save.write_text(text.getvalue())
    return save
