"""RTL code coverage (sim/coverage/rtl.py): the coverage-file parser, the block mapping and the merge on a
handmade .dat, bad input, and one real run on the Verilator coverage build merged end to end."""

import json
import shutil

import pytest

from sim.contract.config import RunConfig
from sim.coverage import rtl as rtl_coverage
from sim.contract.errors import UsageError
from sim.coverage.rtl import block_of, main, merge_rtl_coverage, read_points, render_markdown
from tests.conftest import require_simulator


needs_tool = pytest.mark.skipif(shutil.which("verilator_coverage") is None, reason=rtl_coverage.TOOL_MISSING)

SOURCE = """module lwkt_soc(clk);
  wire [1:0] bus;
  always @* begin
    if (_yosys_trigger_1 ) begin end
    y = 0;
    if (a) begin
      y = 1;
    end
  end
  assign grant = b ? c : d;
endmodule
"""


def _point(source, line, col, kind, module, what, count):
    page = {"line": "v_line", "branch": "v_branch", "toggle": "v_toggle"}[kind]
    keys = [
        ("f", source),
        ("l", line),
        ("n", col),
        ("t", kind),
        ("page", f"{page}/{module}"),
        ("o", what),
        ("h", module),
    ]
    return "C '" + "".join(f"\x01{k}\x02{v}" for k, v in keys) + f"' {count}\n"


def _dat(path, source, counts):
    """A coverage file: two intc instances, a FIFO and an arbiter, the top's toggles; ``counts`` per point."""
    points = [
        (4, 5, "branch", "lwkt_soc.cpu0.intc", "if"),
        (4, 6, "branch", "lwkt_soc.cpu0.intc", "else"),
        (5, 5, "line", "lwkt_soc.cpu0.intc", "block"),
        (6, 5, "branch", "lwkt_soc.cpu0.intc", "if"),
        (6, 6, "branch", "lwkt_soc.cpu0.intc", "else"),
        (6, 5, "branch", "lwkt_soc.cpu1.intc", "if"),
        (10, 20, "branch", "lwkt_soc.ipi", "cond_then"),
        (10, 21, "branch", "lwkt_soc.ipi", "cond_else"),
        (5, 5, "line", "lwkt_soc.ram_arbiter", "block"),
        (2, 13, "toggle", "lwkt_soc", "bus[0]:0->1"),
        (2, 13, "toggle", "lwkt_soc", "bus[0]:1->0"),
    ]
    assert len(counts) == len(points)
    path.write_text(
        rtl_coverage.HEADER + "\n" + "".join(_point(source, *p, c) for p, c in zip(points, counts, strict=True))
    )
    return path


def test_block_names_of_the_generated_modules():
    assert [
        block_of(m)
        for m in (
            "lwkt_soc",
            "lwkt_soc.cpu3",
            "lwkt_soc.cpu12.intc",
            "lwkt_soc.cpu0.sys",
            "lwkt_soc.cpu0.timer",
            "lwkt_soc.cpu0.debug",
            "lwkt_soc.ipi",
            "lwkt_soc.mplock_arbiter",
            "lwkt_soc.mplock",
            "lwkt_soc.ram",
            "lwkt_soc.route",
            "lwkt_soc.device",
        )
    ] == ["top", "decoder", "intc", "sysinfo", "timer", "debug", "ipi", "arbiter", "mplock", "ram", "route", "device"]


def test_parser_reads_points_and_names_bad_files(tmp_path):
    source = tmp_path / "lwkt_soc.v"
    points = read_points(_dat(tmp_path / "a.dat", source, [0, 9, 9, 0, 9, 1, 3, 0, 5, 1, 0]))
    assert len(points) == 11 and sum(points.values()) == 37
    bad = tmp_path / "bad.dat"
    bad.write_text("hello\n")
    with pytest.raises(UsageError, match="not a Verilator coverage file"):
        read_points(bad)
    bad.write_text(rtl_coverage.HEADER + "\nC 'no keys' 3\n")
    with pytest.raises(UsageError, match=r"bad.dat:2: not a coverage point"):
        read_points(bad)


@needs_tool
def test_merge_adds_runs_and_sums_per_block(tmp_path):
    build = tmp_path / "verilator-c2-x-cov"
    build.mkdir()
    source = build / "lwkt_soc.v"
    source.write_text(SOURCE)
    run_a = tmp_path / "run_a"  # a run folder, and a bare .dat file
    run_a.mkdir()
    _dat(run_a / "rtl_coverage.dat", source, [0, 9, 9, 0, 9, 0, 3, 0, 5, 1, 0])
    dat_b = _dat(tmp_path / "b.dat", source, [0, 4, 4, 2, 2, 0, 0, 0, 1, 0, 0])
    summary = merge_rtl_coverage([run_a, dat_b], tmp_path / "out")
    blocks = summary["blocks"]
    assert set(blocks) == {"intc", "ipi", "arbiter", "top"}
    # The trigger line's two arms are artefacts; the then-arm of line 6 is hit in run b only.
    assert blocks["intc"]["excluded"] == 2 and summary["excluded"]["points"] == 2
    assert blocks["intc"]["instances"] == 2
    assert blocks["intc"]["line"] == {"hit": 3, "total": 4, "percent": 75.0}
    assert [(m["module"], m["line"], m["text"]) for m in blocks["intc"]["uncovered"]] == [
        ("lwkt_soc.cpu1.intc", 6, "if (a) begin")
    ]
    assert blocks["ipi"]["line"]["percent"] == 50.0 and blocks["ipi"]["uncovered"][0]["points"] == ["cond_else"]
    assert blocks["top"]["toggle"] == {"hit": 1, "total": 2, "percent": 50.0} and blocks["top"]["line"]["total"] == 0
    assert summary["total"]["line"] == {"hit": 5, "total": 7, "percent": 71.42}  # rounded down
    assert summary["builds"] == ["verilator-c2-x-cov"]
    assert summary["by_build"]["verilator-c2-x-cov"]["intc"]["line"] == blocks["intc"]["line"]
    out = tmp_path / "out"
    assert read_points(out / "rtl_coverage.dat")[next(iter(read_points(dat_b)))] == 0
    assert sum(read_points(out / "rtl_coverage.dat").values()) == 36 + 13
    info = (out / "rtl.info").read_text()
    # lcov of the line points only: no DA for the toggle-only line 2 nor the trigger line 4.
    da = {int(line[3:].split(",")[0]) for line in info.splitlines() if line.startswith("DA:")}
    assert da == {5, 6, 10}, info
    assert (out / "annotated" / build.name / "lwkt_soc.v").exists()
    assert json.loads((out / "summary.json").read_text())["blocks"]["intc"]["line"]["hit"] == 3
    md = (out / "summary.md").read_text()
    assert "| intc | 2 | 3/4 | 75.0 % |" in md and "`lwkt_soc.cpu1.intc` line 6 (if) `if (a) begin`" in md
    assert md == render_markdown(summary)
    assert main([str(run_a), str(dat_b), "--out", str(tmp_path / "again"), "--fail-under", "80"]) == 1


def test_bad_input_is_one_line_and_exit_code(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holds no rtl_coverage.dat" in err
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    dat = _dat(tmp_path / "a.dat", tmp_path / "lwkt_soc.v", [1] * 11)
    monkeypatch.setattr(rtl_coverage.shutil, "which", lambda name: None)
    assert main([str(dat), "--out", str(tmp_path / "out")]) == 3
    assert capsys.readouterr().err.strip() == f"sim.coverage.rtl: error: {rtl_coverage.TOOL_MISSING}"


def test_rtl_coverage_needs_verilator(tmp_path):
    from sim.host.run import RunError, run_scenario

    with pytest.raises(RunError, match="needs --sim verilator"):
        run_scenario(RunConfig("up-basic", sim="icarus", out=tmp_path, rtl_coverage=True), quiet=True)


@pytest.mark.verilator
@pytest.mark.xdist_group("rtl_coverage")
@needs_tool
def test_run_with_rtl_coverage_and_merge(tmp_path, capsys):
    """One short SMP run on the coverage build (`lwkt-soc run --rtl-coverage`) and the directed register
    corners on the same build, merged."""
    require_simulator("verilator")
    from hdl.config import SocConfig
    from sim.host.build import build_soc
    from sim.cli import main as cli
    from sim.host.runner import run_cocotb

    run = tmp_path / "run"
    assert cli(["run", "--scenario", "smp-pingpong", "--cpus", "2", "--rtl-coverage", "--out", str(run)]) == 0
    assert (run / "rtl_coverage.dat").stat().st_size > 0 and not (run / "coverage.dat").exists()
    assert json.loads((run / "report.json").read_text())["files"]["rtl_coverage"] == "rtl_coverage.dat"
    assert main([str(run), "--out", str(tmp_path / "alone")]) == 0
    alone = json.loads((tmp_path / "alone" / "summary.json").read_text())
    blocks = alone["blocks"]
    assert {
        "top",
        "decoder",
        "intc",
        "timer",
        "sysinfo",
        "debug",
        "ipi",
        "mplock",
        "arbiter",
        "ram",
        "route",
        "device",
    } <= set(blocks)
    assert blocks["intc"]["instances"] == 2 and blocks["ipi"]["instances"] == 1
    assert blocks["arbiter"]["instances"] == 4
    for name in ("decoder", "intc", "timer", "ipi", "mplock", "arbiter"):
        assert 30 < blocks[name]["line"]["percent"] <= 100, (name, blocks[name])
    assert 0 < alone["total"]["toggle"]["percent"] < 100
    assert alone["builds"] == ["verilator-c2-f32-r4096-e4-p8-cov"]
    info = (tmp_path / "alone" / "rtl.info").read_text()
    assert info.count("\nDA:") > 100 and "end_of_record" in info
    assert "| intc | 2 |" in capsys.readouterr().out

    # The directed corners (sim/tb/directed/register_corners.py) on the same build close what the run leaves.
    build = build_soc("verilator", SocConfig(ncpu=2), coverage=True)
    corners = run_cocotb(build, "sim.tb.directed.register_corners", test_dir=tmp_path / "corners")
    log = (tmp_path / "corners" / "sim.log").read_text()
    assert corners.ok and corners.tests == 6, log[-6000:]
    merged = merge_rtl_coverage([run, tmp_path / "corners"], tmp_path / "merged")
    for name in ("device", "route", "ipi", "timer", "mplock"):
        assert merged["blocks"][name]["line"]["percent"] >= 95, (name, merged["blocks"][name]["uncovered"])
    assert merged["total"]["line"]["hit"] > alone["total"]["line"]["hit"]


@pytest.mark.icarus
def test_register_corners_on_icarus(tmp_path):
    """The directed corners assert behaviour, not coverage: they hold on the other simulator too."""
    require_simulator("icarus")
    from hdl.config import SocConfig
    from sim.host.build import build_soc
    from sim.host.runner import run_cocotb

    build = build_soc("icarus", SocConfig(ncpu=2, fifo_depth=4))
    result = run_cocotb(build, "sim.tb.directed.register_corners", test_dir=tmp_path)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok and result.tests == 6, log[-6000:]
