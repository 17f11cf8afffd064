"""Firmware code coverage (sim/coverage/fw.py): coverage.py over firmware/ inside the simulator, combined
over runs and summarised per seed function."""

import json

import pytest

from sim.contract.config import RunConfig
from sim.contract.errors import EXIT_USAGE
from sim.coverage.fw import (
    DEFAULT_SEEDS,
    SEED_LIST,
    function_spans,
    main,
    merge_fw_coverage,
    render_markdown,
    seed_functions,
)
from tests.conftest import require_simulator


def test_seed_function_names_come_from_the_c_sources():
    """From the seed sources beside the checkout, or (a checkout without them, such as CI's) the list
    read from them and saved in sim/coverage/seed_functions.json."""
    seeds = seed_functions()
    if DEFAULT_SEEDS.is_dir():
        assert seeds == json.loads(SEED_LIST.read_text()), (
            "sim/coverage/seed_functions.json is stale: --write-seed-list"
        )
    for name in ("lwkt_switch", "lwkt_preempt", "lwkt_gettoken", "lwkt_schedule", "_lwkt_enqueue"):
        assert seeds[name]["kind"] == "defined" and "v1.12" in seeds[name]["seeds"], name
    assert seeds["lwkt_send_ipiq"] == {"seeds": ["v1.18"], "kind": "defined"}
    # Called by the seeds, defined elsewhere in DragonFly (thread2.h, the MP lock code).
    assert seeds["crit_exit"]["kind"] == "called" and seeds["cpu_try_mplock"]["kind"] == "called"
    assert not any(name.startswith("SYSCTL") for name in seeds)


def test_lines_belong_to_the_innermost_function(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import os\n\n\nclass A:\n    def f(self):\n        x = 1\n\n        def g():\n"
        "            return x\n        return g\n\n\nasync def h():\n    pass\n"
    )
    functions, owner = function_spans(source)
    assert [f["qualname"] for f in functions] == ["A.f", "A.f.g", "h"]
    assert owner[6] == "A.f" and owner[9] == "A.f.g" and owner[10] == "A.f" and owner[14] == "h"
    assert 1 not in owner and 5 not in owner  # module level and the def line itself


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    (tmp_path / "run").mkdir()
    assert main([str(tmp_path / "run"), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    (tmp_path / "bad.dat").write_text("not a database\n")
    assert main([str(tmp_path / "bad.dat"), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 3 and "Traceback" not in err
    assert "holds no fw_coverage.dat" in err and "is not coverage.py data" in err


@pytest.mark.verilator
@pytest.mark.xdist_group("fw_coverage")
def test_runs_measure_the_firmware_and_merge_per_seed_function(tmp_path):
    require_simulator("verilator")
    from sim.host.run import run_scenario

    runs = [tmp_path / "up", tmp_path / "smp"]
    assert run_scenario(RunConfig("up-basic", sim="verilator", seed=1, out=runs[0], fw_coverage=True), quiet=True) == 0
    assert (
        run_scenario(
            RunConfig("smp-pingpong", sim="verilator", seed=1, cpus=2, out=runs[1], fw_coverage=True), quiet=True
        )
        == 0
    )
    for run in runs:
        assert (run / "fw_coverage.dat").stat().st_size > 0
        assert json.loads((run / "run.json").read_text())["fw_coverage"] is True
    out = tmp_path / "merged"
    summary = merge_fw_coverage(runs, out)
    by_name = {(f["module"], f["qualname"]): f for f in summary["functions"]}
    # The tracer saw the firmware's coroutines (cocotb runs them in the simulator's main thread).
    up_switch, smp_switch = (
        by_name["firmware/lwkt.py", "Lwkt.lwkt_switch"],
        by_name["firmware/smp.py", "LwktSmp.lwkt_switch"],
    )
    for switch in (up_switch, smp_switch):
        assert switch["seed"] == "defined" and switch["statements_run"] > switch["statements"] // 2
        assert switch["branches"] > 0 and 0 < switch["branches_taken"] <= switch["branches"]
    assert by_name["firmware/ipiq.py", "IpiqMixin.lwkt_send_ipiq"]["statements_run"] > 0  # SMP only
    seeds_run = [f for f in summary["functions"] if f["seed"] == "defined" and f["statements_run"]]
    assert len(seeds_run) >= 20
    # Only a panic reaches crit_panic: reported, as not run, with its lines.
    panic = by_name["firmware/lwkt.py", "Lwkt.crit_panic"]
    assert panic["seed"] == "defined" and panic["statements_run"] == 0 and panic["missed_lines"]
    assert summary["rest_total"]["statements_run"] > 0 and summary["module_level"]["statements_pct"] > 50
    assert 0 < summary["firmware_total"]["statements_run"] < summary["firmware_total"]["statements"]
    text = render_markdown(summary)
    assert text.index("## Seed functions") < text.index("## The rest of `firmware/`")
    assert "`Lwkt.crit_panic` **not run**" in text
    for name in (
        "fw_coverage.dat",
        "fw_coverage.json",
        "fw_coverage.md",
        "coverage.xml",
        "fw_coverage.lcov",
        "html/index.html",
    ):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "fw_coverage.json").read_text())["functions"] == summary["functions"]
