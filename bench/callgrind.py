"""Reading a callgrind out file: self instructions, calls and source file per function.

``bench/seed_cost.py`` measures the seed's kernel functions with it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["parse_callgrind"]

_SPEC = re.compile(r"^(fl|fi|fe|fn|cfl|cfi|cfn|ob|cob)=(.*)$")
_COMPRESSED = re.compile(r"^\((\d+)\)(?: (.*))?$")
_CLONE = re.compile(r"\.(?:part|constprop|isra|cold|lto_priv)(?:\.\d+)*$")


def parse_callgrind(path: Path) -> dict[str, dict]:
    """Self Ir, call count and source file of each function in a callgrind out file.

    Handles callgrind's name compression (``fn=(7) name`` then ``fn=(7)``) and
    relative positions. The cost line after a ``calls=`` line is the inclusive
    cost of that call: it is counted as the callee's call, not as self cost.
    gcc clone suffixes (``.part.0``, ``.constprop.0``) fold into the base name.
    """
    tables: dict[str, dict[str, str]] = {"fn": {}, "fl": {}, "ob": {}}
    kind = {
        "fn": "fn",
        "cfn": "fn",
        "fl": "fl",
        "fi": "fl",
        "fe": "fl",
        "cfl": "fl",
        "cfi": "fl",
        "ob": "ob",
        "cob": "ob",
    }
    funcs: dict[str, dict] = {}
    npos = 1
    event_index = 0
    fn = cfn = None
    file = None
    after_calls = False

    def entry(name: str) -> dict:
        return funcs.setdefault(name, {"ir": 0, "calls": 0, "file": None})

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if after_calls:
                    after_calls = False
                    continue
                parts = line.split()
                values = parts[npos:]
                if fn is not None and len(values) > event_index:
                    entry(fn)["ir"] += int(values[event_index])
                continue
            m = _SPEC.match(line)
            if m:
                key, val = m.groups()
                table = tables[kind[key]]
                mc = _COMPRESSED.match(val)
                if mc:
                    if mc.group(2) is not None:
                        table[mc.group(1)] = mc.group(2)
                    name = table[mc.group(1)]
                else:
                    name = val
                if key == "fn":
                    fn = _CLONE.sub("", name)
                    e = entry(fn)
                    if e["file"] is None:
                        e["file"] = os.path.basename(file or "")
                elif key == "cfn":
                    cfn = _CLONE.sub("", name)
                elif key == "fl":
                    file = name
                continue
            if line.startswith("calls="):
                entry(cfn)["calls"] += int(line[6:].split()[0])
                after_calls = True
            elif line.startswith("positions:"):
                npos = len(line.split()[1:])
            elif line.startswith("events:"):
                event_index = line.split()[1:].index("Ir")
    return funcs
