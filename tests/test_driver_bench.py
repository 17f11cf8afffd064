"""The driver benchmark's cocotb program runs and both drivers read the same value."""
import json

from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.host.runner import run_cocotb


def test_driver_bench_program(tmp_path):
    build = build_soc("verilator", SocConfig(ncpu=2))
    result = run_cocotb(build, "bench.driver_bench", test_dir=tmp_path,
                        extra_env={"LWKT_BENCH_OUT": str(tmp_path), "LWKT_BENCH_TRANSACTIONS": "50",
                                   "LWKT_BENCH_ROUNDS": "2"})
    assert result.ok, (tmp_path / "sim.log").read_text()[-3000:]
    data = json.loads((tmp_path / "driver.json").read_text())
    assert data["ours"]["transactions"] == data["baseline"]["transactions"] == 50
    assert data["driver_speedup"] > 0 and data["access_cycles"] <= 2
    assert data["simulator_only"]["transactions_per_second"] > 0
