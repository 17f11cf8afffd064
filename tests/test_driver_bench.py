"""The driver benchmark's cocotb program runs and both drivers read the same value."""

import json

from hdl.config import SocConfig
from sim.contract.config import RunConfig
from sim.host.build import build_soc
from sim.host.runner import run_cocotb


def test_driver_bench_program(tmp_path):
    soc = SocConfig(ncpu=2)
    config = RunConfig.directed(
        "bench.driver_bench", soc, "verilator", tmp_path, params={"transactions": 50, "rounds": 2}
    )
    result = run_cocotb(build_soc("verilator", soc), "bench.driver_bench", test_dir=tmp_path, config=config)
    assert result.ok, (tmp_path / "sim.log").read_text()[-3000:]
    data = json.loads((tmp_path / "driver.json").read_text())
    assert data["ours"]["transactions"] == data["baseline"]["transactions"] == 50
    assert data["driver_speedup"] > 0 and data["access_cycles"] <= 2
    assert data["simulator_only"]["transactions_per_second"] > 0
