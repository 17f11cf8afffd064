"""The hardware-cost benchmark charges every cell to a block and fits the growth.

Not timed: one small synthesis (2 CPUs, depth 4, 16 RAM words) checked for
structure, and the fit on made-up figures.
"""

import pytest

from bench import hw_cost, hw_cost_blocks, hw_cost_figures
from hdl.config import SocConfig
from hdl.ipi import cpu_bits

# One worker runs the module, so the synthesis below happens once.
pytestmark = pytest.mark.xdist_group("hw_cost")

NCPU, DEPTH, RAM_WORDS = 2, 4, 16
# Kept for the process: xdist may tear a module fixture down between two tests.
_synthesized = {}


@pytest.fixture
def small_soc(tmp_path_factory):
    """The small SoC synthesized once per process, cached in this worker's temp directory."""
    try:
        hw_cost.require_yosys()
    except hw_cost.YosysMissing as exc:
        pytest.skip(str(exc))
    if not _synthesized:
        cache = tmp_path_factory.mktemp("hw_cost_cache")
        config = SocConfig(ncpu=NCPU, fifo_depth=DEPTH, ram_words=RAM_WORDS)
        _synthesized["soc"] = (hw_cost.synthesize(config, cache_dir=cache), config, cache)
    return _synthesized["soc"]


def test_block_of_names():
    assert hw_cost_blocks.block_of("\\lwkt_soc") == "top"
    assert hw_cost_blocks.block_of("lwkt_soc.cpu12") == "decoder"
    assert hw_cost_blocks.block_of("lwkt_soc.cpu3.intc") == "intc"
    assert hw_cost_blocks.block_of("lwkt_soc.ipi") == "ipi"
    assert hw_cost_blocks.block_of("lwkt_soc.route_arbiter") == "arbiter"
    assert hw_cost_blocks.block_of("lwkt_soc.device") == "device"
    assert hw_cost_blocks.block_of("lwkt_soc.device_arbiter") == "arbiter"
    assert hw_cost_blocks.block_of("lwkt_soc.cpu0.intc.helper") == "other"


def test_instances_multiply():
    modules = {
        "top": {"cells_by_type": {"mid": 2, "$_AND_": 1}, "memory_bits": 0},
        "mid": {"cells_by_type": {"leaf": 3, "$_DFF_P_": 4}, "memory_bits": 0},
        "leaf": {"cells_by_type": {"$_XOR_": 5, "$mem_v2": 1}, "memory_bits": 8},
        "orphan": {"cells_by_type": {"$_OR_": 1}, "memory_bits": 0},
    }
    result = hw_cost_blocks.rollup(modules, "top")
    other = result["blocks"]["other"]
    assert other["instances"] == 1 + 2 + 6
    assert other["cells"] == 1 + 2 * 4 + 6 * 5 == result["cells"]
    assert other["flip_flops"] == 8 and other["memory_bits"] == 48
    assert result["unreached_modules"] == ["orphan"]


def test_every_block_has_cells(small_soc):
    result, _, _ = small_soc
    for block in hw_cost_blocks.BLOCK_NAMES:
        if block != hw_cost_blocks.OTHER:
            assert result["blocks"][block]["cells"] > 0, block
    assert result["blocks"]["other"]["cells"] == 0 and result["other_modules"] == []
    assert result["unknown_cell_types"] == {} and result["unreached_modules"] == []
    assert result["cells"] == sum(b["cells"] for b in result["blocks"].values())
    assert 0 < result["flip_flops"] < result["cells"]


def test_counts_follow_the_config(small_soc):
    result, config, _ = small_soc
    blocks = result["blocks"]
    assert blocks["ipi"]["instances"] == 1
    for block in hw_cost_blocks.PER_CPU_BLOCKS:
        assert blocks[block]["instances"] == NCPU, block
    assert blocks["arbiter"]["instances"] == 4
    # Per pair row (a power of two of rows): {windex, func}, rindex, and depth entries of
    # (function, argument); RAM words are 32 bits.
    rows = 1 << (2 * cpu_bits(NCPU))
    fifo_bits = rows * (64 + 32 + config.fifo_depth * 64)
    assert blocks["ipi"]["memory_bits"] == fifo_bits
    assert blocks["ram"]["memory_bits"] == config.ram_words * 32
    assert result["memory_bits"] == fifo_bits + config.ram_words * 32


def test_cache_is_reused(small_soc):
    result, config, cache = small_soc
    again = hw_cost.synthesize(config, cache_dir=cache)
    assert again["cached"] and not result["cached"]
    assert again["blocks"] == result["blocks"]


def _made_up(ncpu, depth, total, ipi, per_cpu):
    blocks = {name: {"cells": 0} for name in hw_cost_blocks.BLOCK_NAMES}
    blocks["ipi"]["cells"] = ipi
    blocks["decoder"]["cells"] = per_cpu
    return {"config": {"ncpu": ncpu, "fifo_depth": depth}, "cells": total, "blocks": blocks}


def test_fit_recovers_known_growth():
    results = [
        _made_up(n, d, 300 + 1200 * n + 950 * n * n + d, 40 + 700 * n + 9 * n * n + 2 * d, 1100 * n)
        for n in (2, 4, 8, 16)
        for d in (4, 32)
    ]
    fits = hw_cost_figures.fit_growth(results)
    a, b, c = fits["total_vs_n"]["4"]["coefficients"]
    assert (a, b, c) == pytest.approx((304, 1200, 950))
    assert fits["total_vs_n"]["4"]["r2"] == pytest.approx(1)
    assert fits["ipi_vs_n"]["32"]["coefficients"] == pytest.approx([104, 700, 9])
    assert fits["per_cpu_vs_n"]["4"]["coefficients"] == pytest.approx([0, 1100], abs=1e-6)
    assert fits["ipi_vs_depth"]["16"]["coefficients"][1] == pytest.approx(2)
    assert fits["ipi_vs_depth"]["16"]["cells_per_cpu"]["4"] == pytest.approx((40 + 700 * 16 + 9 * 256 + 8) / 16)
    assert "n²" in hw_cost_figures.markdown_fit(fits)
