"""The layers of sim/ (docs/architecture.md): host commands run without the simulator side, and the
scenario catalogue the host reads matches the classes the simulator runs."""

import subprocess
import sys

import pytest

from sim.contract.catalogue import SCENARIOS as CATALOGUE

_PROBE = """
import sys
from sim.cli import main
sys.argv = ["lwkt-soc", *{args!r}]
try:
    main()
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("cocotb", "amaranth") or m.startswith("sim.tb"))
print("LOADED", ",".join(loaded))
"""


@pytest.mark.parametrize(
    "args", [["list"], ["regs"], ["results", "--help"], ["run", "--help"], ["regress", "--help"], ["report", "--help"]]
)
def test_host_commands_load_neither_cocotb_nor_the_simulator_side(args):
    done = subprocess.run([sys.executable, "-c", _PROBE.format(args=args)], capture_output=True, text=True, timeout=120)
    loaded = [line for line in done.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded, done.stderr
    assert loaded[-1] == "LOADED ", f"lwkt-soc {' '.join(args)} imported {loaded[-1][7:]}"


def test_every_declared_scenario_has_one_implementation_with_its_fields():
    from sim.tb.scenarios import get_scenario
    from sim.tb.scenarios.base import _INFO_FIELDS

    for name, info in CATALOGUE.items():
        if info.module.startswith("tests."):
            continue
        cls = get_scenario(name)
        assert cls.__module__ == info.module
        for field in _INFO_FIELDS:
            assert getattr(cls, field) == getattr(info, field), (name, field)


def test_a_class_that_restates_a_declared_field_is_refused():
    from sim.tb.scenarios.base import Scenario, register

    with pytest.raises(TypeError, match="sets max_cycles"):

        @register
        class Restated(Scenario):
            name = "up-idle"
            max_cycles = 5

    with pytest.raises(KeyError, match="unknown scenario 'no-such'"):

        @register
        class Undeclared(Scenario):
            name = "no-such"
