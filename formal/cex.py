"""Counterexamples: read the VCD yosys-smtbmc writes, print its signals, write a GTKWave save file.

yosys-smtbmc puts step s at time 10*s (a clock edge at 10*s+5 is not a step), with the
harness's own signals in scope ``top`` and each block under ``top.<submodule>``.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["read_steps", "format_signals", "write_save_file"]

_STEP = 10                 # VCD time units per solver step
# GTKWave trace flags (gtkwave src/analyzer.h): right-justified hex, decimal, binary.
_HEX, _BIN = 0x22, 0x28


def read_steps(vcd: Path) -> tuple[dict[str, int], list[dict[str, int]]]:
    """``(widths, steps)``: the width of each ``scope.name`` and its value at every step."""
    ids: dict[str, list[str]] = {}
    widths: dict[str, int] = {}
    scope: list[str] = []
    values: dict[str, int] = {}
    steps: list[dict[str, int]] = []
    current = 0
    header = True
    for line in Path(vcd).read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if header:
            if words[0] == "$scope":
                scope.append(words[2])
            elif words[0] == "$upscope":
                scope.pop()
            elif words[0] == "$var" and words[1] == "wire":
                name = ".".join(scope + [words[4]])
                ids.setdefault(words[3], []).append(name)
                widths[name] = int(words[2])
            elif words[0] == "$enddefinitions":
                header = False
            continue
        if words[0].startswith("#"):
            while current < int(words[0][1:]) // _STEP:   # the step before is complete
                steps.append(dict(values))
                current += 1
        elif words[0][0] == "b" and len(words) == 2:
            bits = words[0][1:]
            value = int(bits, 2) if set(bits) <= {"0", "1"} else 0
            for name in ids.get(words[1], ()):
                values[name] = value
    steps.append(dict(values))
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
    """A GTKWave save file that opens ``vcd`` with the harness's signals, then the blocks',
    the primary marker on the failing ``step``."""
    vcd, save = Path(vcd).resolve(), Path(save).resolve()
    widths, _ = read_steps(vcd)
    lines = ["[*] lwkt-soc formal counterexample (formal/cex.py)",
             f'[dumpfile] "{vcd}"', f'[savefile] "{save}"', "[timestart] 0",
             f"*-4.000000 {step * _STEP} " + " ".join(["-1"] * 26), f"[treeopen] {scope}."]
    flags = None

    def add(name):
        nonlocal flags
        width = widths[name]
        want = _HEX if width > 1 else _BIN
        if want != flags:
            lines.append(f"@{want:x}")
            flags = want
        lines.append(f"{name}[{width - 1}:0]" if width > 1 else name)

    own = sorted(n for n in widths if n.count(".") == 1 and n.startswith(scope + "."))
    for name in [n for n in own if ".f_" in n] + [n for n in own if ".f_" not in n]:
        add(name)
    save.write_text("\n".join(lines) + "\n")
    return save
