"""Only the public probes (hdl/probe_map.py, as sim/host/verilator.py's list) are reachable in the Verilator model.

The pytest side parses the generated Verilog into its modules' signals, splits them into those
the list names and the others, and runs this same file as a cocotb program (``probe_public``)
on a 2-CPU build: every listed signal must be there (and ``cycle`` writable), no other may be.
"""

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge

from hdl.config import TOPLEVEL as TOP
from hdl.config import SocConfig
from sim.tb.testbench import SocBench
from sim.host.verilator import VLT_NAME, public_signals, vlt_text

CONFIG = SocConfig(ncpu=2)
ROOT = Path(__file__).resolve().parent.parent
_MODULE = re.compile(r"^module\s+(\\\S+|\w+)\s*\(", re.M)
_DECLARATION = re.compile(r"^\s*(?:reg|wire|input|output)\s+(?:\[[^\]]*\]\s*)?(\\\S+|\w+)", re.M)


def _unescape(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def declared(verilog: str) -> dict[str, set[str]]:
    """The signals declared in each module of Amaranth's Verilog, by unescaped module name."""
    starts = list(_MODULE.finditer(verilog))
    modules = {}
    for match, end in zip(starts, [m.start() for m in starts[1:]] + [len(verilog)], strict=True):
        body = verilog[match.end() : end]
        modules[_unescape(match.group(1))] = {_unescape(n) for n in _DECLARATION.findall(body)}
    return modules


def split(modules: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """Paths below the top (``cpu0.debug.pri``) the list makes public, and the others; only names
    cocotb takes as attributes (not Yosys's ``_12_`` temporaries, nor ``$``, nor dotted ones)."""
    public, private = [], []
    for module, names in modules.items():
        # Amaranth names each module definition by its instance path: lwkt_soc.cpu0.debug is dut.cpu0.debug.
        prefix = module[len(TOP) + 1 :] + "." if module != TOP else ""
        for name in sorted(names):
            if not re.fullmatch(r"[A-Za-z]\w*", name):
                continue
            listed = any(fnmatchcase(module, m) and fnmatchcase(name, v) for m, v in public_signals())
            (public if listed else private).append(prefix + name)
    return public, private


def test_vlt_names_every_signal_of_the_list():
    lines = vlt_text().splitlines()
    assert lines[0] == "`verilator_config"
    for module, name in public_signals():
        assert f'public_flat_rw -module "{module}" -var "{name}"' in lines
    assert len([line for line in lines if line.startswith("public")]) == len(public_signals())


def test_every_entry_names_a_signal_of_the_design():
    """A renamed signal would silently drop out of the list: each entry matches something (2 CPUs; the
    ports of CPUs 10-31 by name)."""
    from hdl.verilog import soc_verilog

    modules = declared(soc_verilog(CONFIG))

    def matches(module, name):
        return any(fnmatchcase(m, module) and any(fnmatchcase(n, name) for n in names) for m, names in modules.items())

    for module, name in public_signals():
        if "??" in name:
            assert fnmatchcase(name.replace("??", "31"), name) and not fnmatchcase("cpu31__bus__cyc", name)
        else:
            assert matches(module, name), (module, name)
    # The top-level ports of a core, not the top's internal wires of the same stem.
    public, _ = split(modules)
    assert "cpu1__cyc" in public and "cpu1__bus__cyc" not in public


def test_model_exposes_only_the_list(tmp_path):
    from sim.host.build import build_soc
    from sim.host.runner import run_cocotb
    from tests.conftest import require_simulator

    require_simulator("verilator")
    build = build_soc("verilator", CONFIG)
    assert (build.directory / VLT_NAME).read_text() == vlt_text()
    public, private = split(declared(build.verilog.read_text()))
    assert {"cycle", "clk", "cpu0__cyc", "mplock.held", "cpu1.debug.event", "cpu0.intc.soft", "device.posted3"} <= set(
        public
    )
    assert any(path.startswith("ipi.") for path in public)
    assert {"cpu0.intc.pending", "mplock.failed_tries", "device.data0", "cpu0__bus__cyc"} <= set(private)
    (tmp_path / "names.json").write_text(json.dumps({"public": public, "private": private}))
    result = run_cocotb(build, "tests.test_verilator_public", test_dir=tmp_path, python_path=[str(ROOT)])
    assert result.ok, (tmp_path / "sim.log").read_text()[-4000:]


def _handle(dut, path: str):
    """The handle at ``path`` below ``dut``, or None when some step of it is not reachable."""
    handle = dut
    for step in path.split("."):
        try:
            handle = getattr(handle, step)
        except AttributeError:
            return None
    return handle


@cocotb.test()
async def probe_public(dut):
    from sim.contract.config import RunConfig

    names = json.loads((Path(RunConfig.from_environment().out) / "names.json").read_text())
    missing = [path for path in names["public"] if _handle(dut, path) is None]
    leaked = [path for path in names["private"] if _handle(dut, path) is not None]
    assert not missing, f"listed but not public: {missing}"
    assert not leaked, f"public but not listed: {leaked}"
    # Readable, and cycle writable (sim/tb/directed/isolation.py moves it forward): it counts on from there.
    assert int(dut.cpu0.debug.curthread.value) == 0
    await SocBench(dut).start()  # the clock (cocotb's or the model's) and reset
    dut.cycle.value = 5 << 32
    for _ in range(3):
        await FallingEdge(dut.clk)
    assert 5 << 32 < int(dut.cycle.value) <= (5 << 32) + 3
