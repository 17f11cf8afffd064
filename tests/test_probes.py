"""The one name table of the RTL (hdl/probe_map.py): every declared probe is in the design, the
instance paths are those the SoC builds, Verilator's list marks exactly the public probes, and every
consumer (formal harnesses, the testbench, the GTKWave groups) names only declared probes.

Fast: the Verilog of a 2-CPU SoC and the formal harnesses elaborated, no simulator.
"""

import ast
import functools
import itertools
import re
from fnmatch import fnmatchcase
from pathlib import Path
from types import SimpleNamespace

import pytest
from amaranth.hdl import Fragment

from formal.blocks import BLOCKS, harness
from formal.harness import internal
from hdl.config import TOPLEVEL, SocConfig
from hdl.mplock import MpLock
from hdl.probe import placeholders, regex
from hdl.probe_map import INSTANCES, SOC_PROBES, UndeclaredProbe, lookup, path, pattern
from hdl.soc import LwktSoc
from sim.host.verilator import public_signals
from sim.reports import gtkwave
from sim.tb.probes import Probes, check_public
from tests.test_verilator_public import declared

ROOT = Path(__file__).resolve().parent.parent
CONFIG = SocConfig(ncpu=2)


@functools.cache
def _design() -> dict[str, set[str]]:
    """Module (by instance path below the top, ``""`` for the top) -> the signals it declares."""
    from hdl.verilog import soc_verilog

    modules = declared(soc_verilog(CONFIG))
    return {("" if m == TOPLEVEL else m.removeprefix(f"{TOPLEVEL}.")): names for m, names in modules.items()}


def _instances(template: str) -> list[str]:
    return [template.format(c=c) for c in range(CONFIG.ncpu)] if "{c}" in template else [template]


def test_every_declared_probe_is_in_the_design():
    design = _design()
    for placed in SOC_PROBES:
        for instance in _instances(placed.instance):
            assert instance in design, f"{placed.block.__name__} is not at {instance!r}"
            names = design[instance]
            found = [n for n in names if placed.probe.matches(n)]
            assert found, f"{instance or 'top'}: no signal {placed.probe.name} ({placed.block.__name__}.PROBES)"


def test_the_instances_are_where_the_soc_builds_its_blocks():
    seen = {}

    def walk(fragment, prefix):
        for sub, name, _ in fragment.subfragments:
            where = f"{prefix}.{name}" if prefix else name
            seen[where] = type(sub.origins[0])
            walk(sub, where)

    walk(Fragment.get(LwktSoc(CONFIG), None), "")
    for template, block in INSTANCES.items():
        for instance in _instances(template):
            assert instance == "" or seen.get(instance) is block, (template, instance, seen.get(instance))
    # Every block that declares probes sits at a declared place.
    for where, block in seen.items():
        if getattr(block, "PROBES", ()):
            assert any(regex(t).fullmatch(where) and b is block for t, b in INSTANCES.items()), where


def test_verilator_marks_exactly_the_public_probes():
    """What the list's wildcards take in the design is what the table declares public: no private
    probe rides along on a pattern, no public one is missed (only names cocotb takes as attributes)."""
    listed, public = set(), set()
    for instance, names in _design().items():
        module = f"{TOPLEVEL}.{instance}" if instance else TOPLEVEL
        for name in names:
            if not re.fullmatch(r"[A-Za-z]\w*", name):
                continue
            full = f"{instance}.{name}" if instance else name
            if any(fnmatchcase(module, m) and fnmatchcase(name, v) for m, v in public_signals()):
                listed.add(full)
            try:
                if lookup(full).public:
                    public.add(full)
            except UndeclaredProbe:
                pass
    assert listed == public
    assert {"cycle", "cpu1__cyc", "mplock.busts", "cpu0.intc.prio3", "ipi.sent_to_1", "ipi.send"} <= public


def test_lookup_names_the_block_to_declare_in():
    assert lookup("cpu1.intc.prio4").block.__name__ == "InterruptController"
    with pytest.raises(UndeclaredProbe, match=r"InterruptController.PROBES \(hdl/intc.py\)"):
        lookup("cpu0.intc.candidate")
    with pytest.raises(UndeclaredProbe, match="no block sits at 'nowhere'"):
        lookup("nowhere.x")
    assert path("cpu{c}.debug.pri", c=3) == "cpu3.debug.pri"
    with pytest.raises(UndeclaredProbe):
        path("cpu{c}.debug.nosuch", c=0)
    assert pattern("cpu{c}.debug.curthread", "TOP.").match("TOP.cpu12.debug.curthread")[1] == "12"


# -- the consumers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block", list(BLOCKS))
def test_formal_harnesses_read_only_declared_probes(block):
    """internal() refuses an undeclared name: elaborating every harness at its CI sizes checks them all."""
    cls = harness(block)
    for size in cls.QUICK:
        Fragment.get(cls(**size), None)


def test_formal_internal_refuses_an_undeclared_name():
    frag = Fragment.get(MpLock(2, 4), None)
    assert internal(frag, "quiet").name == "quiet"
    with pytest.raises(UndeclaredProbe, match=r"'mine' is not a probe of MpLock: declare it in MpLock.PROBES"):
        internal(frag, "mine")


class _ProbeCalls(ast.NodeVisitor):
    """The paths given to ``probe(...)``, ``*.probe(...)``, ``*._probe(...)`` and ``*.exists(...)``.

    A field of an f-string takes each value of the literal tuple an enclosing ``for`` (or
    comprehension) binds it to, and 0 otherwise: fields are CPU and line numbers.
    """

    CALLS = ("probe", "_probe", "exists")

    def __init__(self):
        self.bound: dict[str, list[str]] = {}
        self.paths: list[str] = []

    def _values(self, node) -> list[str]:
        """Every string ``node`` may be: a literal, an f-string, a starred generator of one."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            parts = [
                [v.value] if isinstance(v, ast.Constant) else self.bound.get(getattr(v.value, "id", None), ["0"])
                for v in node.values
            ]
            return ["".join(p) for p in itertools.product(*parts)]
        if isinstance(node, ast.Starred) and isinstance(node.value, ast.GeneratorExp):
            return self._values(node.value.elt)
        return []

    def _bind(self, target, iterable) -> None:
        if isinstance(target, ast.Name) and isinstance(iterable, (ast.Tuple, ast.List)):
            self.bound[target.id] = [v for element in iterable.elts for v in self._values(element)]

    def visit_For(self, node):
        saved = dict(self.bound)
        self._bind(node.target, node.iter)
        self.generic_visit(node)
        self.bound = saved

    def _comprehension(self, node):
        saved = dict(self.bound)
        for generator in node.generators:
            self._bind(generator.target, generator.iter)
        self.generic_visit(node)
        self.bound = saved

    visit_GeneratorExp = visit_ListComp = visit_SetComp = visit_DictComp = _comprehension

    def visit_Call(self, node):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in self.CALLS and node.args:
            self.paths += self._values(node.args[0])
        self.generic_visit(node)


def test_the_testbench_reads_only_declared_public_probes():
    scan = _ProbeCalls()
    for source in sorted((ROOT / "sim" / "tb").rglob("*.py")):
        scan.visit(ast.parse(source.read_text()))
    paths = scan.paths
    for signal_path in paths:
        check_public(signal_path)
    # The scan finds the call sites (a refactoring that hides them would make this test vacuous).
    expected = {"mplock.owner", "cycle", "device.serviced0", "ipi.roe_0", "cpu0.intc.prio0", "cpu0.debug.event"}
    assert expected <= set(paths)


def test_the_accessor_resolves_public_probes_and_refuses_the_others():
    busts = SimpleNamespace(value=3)
    dut = SimpleNamespace(mplock=SimpleNamespace(busts=busts), device=SimpleNamespace(posted0=1))
    probe = Probes(dut)
    assert probe("mplock.busts") is busts
    assert probe.exists("device.posted0") and not probe.exists("device.posted1")
    with pytest.raises(UndeclaredProbe, match="private probe of MpLock"):
        probe("mplock.quiet")
    with pytest.raises(UndeclaredProbe, match="not a declared probe"):
        probe("mplock.nosuch")


def test_the_gtkwave_groups_show_only_declared_probes():
    groups = (
        gtkwave.TOP_SIGNALS,
        gtkwave.CORE_SIGNALS,
        gtkwave.MPLOCK_SIGNALS,
        gtkwave.IPI_SIGNALS,
        gtkwave.RAM_SIGNALS,
    )
    for group in groups:
        for template, _ in group:
            path(template, **dict.fromkeys(placeholders(template), 0))
    assert len(gtkwave.CORE_SIGNALS) == 7 + 9  # debug, intc, timer, then the core's port


def test_the_hdl_tests_reach_only_declared_signals():
    from tests.hdl.harness import Soc, small_config

    soc = Soc(small_config())
    assert soc.signal("mplock", name="failed_tries") is not None
    with pytest.raises(UndeclaredProbe):
        soc.signal("mplock", name="mine", domain="comb")
