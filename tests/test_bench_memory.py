"""bench/memory.py's long spec: within the spec's bounds, the seed's programs repeated whole, devices busy
over the whole budget."""

from __future__ import annotations

import json

from bench.memory import long_spec
from sim.contract.random_spec import generate_spec
from sim.contract.spec_check import MAX_OPS, load_spec_file


def test_the_long_spec_repeats_each_program_and_passes_the_spec_check(tmp_path):
    spec = long_spec(1, 4, 30_000_000)
    path = tmp_path / "long.json"
    path.write_text(json.dumps(spec))
    load_spec_file(path, ncpu=4)  # raises (a usage error) on a spec out of bounds
    short = generate_spec(1, 4, frozenset())
    for thread, original in zip(spec["threads"], short.threads, strict=True):
        program = [op for op in original.ops if op[0] not in ("spawn", "reap")]
        assert len(thread["ops"]) > MAX_OPS - len(program) and thread["ops"][: len(program)] == program
        assert thread["ops"] == program * (len(thread["ops"]) // len(program))
    for device in spec["devices"]:
        assert sum(device["gaps"]) >= 30_000_000 * 0.9
