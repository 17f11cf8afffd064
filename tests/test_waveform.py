"""A waveform written by a cocotb run names every core's signals readably."""

import pytest

from hdl.config import SocConfig
from sim.host.smoke import run_smoke
from tests.conftest import require_simulator

pywellen = pytest.importorskip("pywellen")


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_waveform_has_per_core_scopes(sim, tmp_path):
    require_simulator(sim)
    config = SocConfig(ncpu=2, fifo_depth=4, ram_words=64, ext_lines=1)
    assert run_smoke(config, sim, tmp_path, waves=True)
    [wave] = list(tmp_path.glob("waves.*"))
    waveform = pywellen.Waveform(str(wave))
    names = {var.full_name: var for var in waveform.all_vars()}
    for cpu in range(2):
        for signal in (
            "cpu{c}__cyc",
            "cpu{c}__ack",
            "cpu{c}__irq",
            "cpu{c}.debug.curthread",
            "cpu{c}.debug.pri",
            "cpu{c}.intc.irq",
            "cpu{c}.timer.pending",
        ):
            name = "lwkt_soc." + signal.format(c=cpu)
            assert name in names, f"{name} missing from {wave.name}"
    # The IPI matrix's ports show the FIFO each CPU addresses, with its indices and pending word.
    assert {"lwkt_soc.ipi.tx0_windex", "lwkt_soc.ipi.rx1_rindex", "lwkt_soc.ipi.pending_1"} <= set(names)
    assert "lwkt_soc.mplock.held" in names and "lwkt_soc.mplock.owner" in names
    if sim == "verilator":
        # $rootio is Verilator's scope of the top-level ports; $auto$ regs are
        # Yosys's start-up triggers for always @* blocks.
        leaked = [n for n in names if "$" in n and not n.startswith("$rootio.") and "$auto$" not in n]
        assert not leaked, f"anonymous Yosys wires leaked into the trace: {leaked[:5]}"
    # The bring-up program wrote CURTHREAD = 0x100 + cpu: the waveform shows it.
    for cpu in range(2):
        changes = list(names[f"lwkt_soc.cpu{cpu}.debug.curthread"].tv)
        assert changes[-1][1] == 0x100 + cpu, changes
