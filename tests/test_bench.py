"""make bench's programs and outputs (figures are printed, never asserted: only their presence and the
cycle-exact latencies, which are properties of the design)."""

import json

import pytest

from bench import run as bench_run
from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.host.runner import run_cocotb


@pytest.mark.parametrize("cpus", [2, 4])
def test_hardware_latency_program(tmp_path, cpus):
    build = build_soc("verilator", SocConfig(ncpu=cpus))
    result = run_cocotb(build, "bench.hw_latency", test_dir=tmp_path)
    assert result.ok, (tmp_path / "sim.log").read_text()[-3000:]
    data = json.loads((tmp_path / "hw_latency.json").read_text())
    assert data["cpus"] == cpus
    assert data["register_read"] == data["register_write"] == 1
    # The port takes no request in the cycle it answers: two cycles per access back to back.
    assert data["back_to_back_read"] == 2
    # Round-robin RAM arbitration: the last of the CPUs that asked together waits for all the others.
    assert data["ram_read_all_cpus"] == cpus
    # The receiver's irq is high right after the edge that takes the TX_ARG write.
    assert data["tx_arg_to_irq"] == 0


def test_bench_writes_every_output(tmp_path):
    assert (
        bench_run.main(
            [
                "--sims",
                "verilator",
                "--cpus",
                "1,2",
                "--repeats",
                "1",
                "--transactions",
                "50",
                "--no-hw-cost",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "results.json").read_text())
    data = results["per_simulator"]["verilator"]
    assert [r["cpus"] for r in data["throughput"]] == [1, 2]
    assert [r["cpus"] for r in data["idle"]] == [1, 2]
    for row in data["throughput"] + data["idle"]:
        assert row["cycles"] > 0 and row["cycles_per_second"] > 0
    assert data["throughput"][1]["kernel_events"] > 0
    # The SMP kernel's shared data is bus traffic: on 2 CPUs part of the transactions go to shared RAM.
    assert 0 < data["throughput"][1]["shared_ram_share"] < 1
    assert results["shared_ram_share"]["verilator"]["2"] == data["throughput"][1]["shared_ram_share"]
    assert results["driver_speedup"]["verilator"] > 0
    # No 16-CPU run, so no 16/2 ratio.
    assert results["event_cost_ratio_16_2"]["verilator"] is None
    assert data["kernel_latency"]["2"]["switch"]["count"] > 0
    # The default cost model against the zero one, per CPU count: more cycles (the kernel's own).
    assert [r["cpus"] for r in data["cost_models"]] == [1, 2]
    for row in data["cost_models"]:
        assert row["default"]["cycles"] > row["zero"]["cycles"] and row["zero"]["kernel_cycles"] == 0
        assert row["default"]["kernel_cycles"] > 0 and row["wall_ratio"] > 0 and row["speed_ratio"] > 0
    assert results["cost_model_speed_ratio"]["verilator"] == max(r["speed_ratio"] for r in data["cost_models"])
    markdown = (tmp_path / "results.md").read_text()
    for heading in ("Throughput", "Idle SoC", "Bus driver", "Scaling", "Cost model", "Latency in cycles"):
        assert heading in markdown
    for plot in ("throughput.png", "scaling.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_rejects_a_bad_cpu_list(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_run.main(["--cpus", "2,x"])
    assert exc.value.code == 2
    assert "--cpus" in capsys.readouterr().err
