"""The kernel emits and the checkers listen: every tracepoint the firmware passes is declared, every
declared check point is passed by the kernel and heard by a checker of sim/checks."""

import ast
from pathlib import Path

import pytest

from firmware.system import CHECK_POINTS, INTERLEAVING_POINTS, TRACEPOINTS, System
from sim.checks.run_checks import RunChecks
from tests.standin_core import StandinCore, _Trace

ROOT = Path(__file__).resolve().parent.parent


def _passed_points() -> dict[str, list[str]]:
    """Tracepoint name -> the firmware lines that pass it (``x.tracepoint("name", ...)``)."""
    points: dict[str, list[str]] = {}
    for path in sorted((ROOT / "firmware").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "tracepoint":
                name = node.args[0]
                assert isinstance(name, ast.Constant), f"{path.name}:{node.lineno}: a tracepoint is named by a literal"
                points.setdefault(name.value, []).append(f"{path.name}:{node.lineno}")
    return points


def test_every_tracepoint_the_kernel_passes_is_declared_and_every_declared_one_is_passed():
    passed = _passed_points()
    assert set(passed) - set(TRACEPOINTS) == set(), "undeclared tracepoints"
    assert set(TRACEPOINTS) - set(passed) == set(), "declared but never passed"
    assert not set(INTERLEAVING_POINTS) & set(CHECK_POINTS)


def test_every_check_point_has_a_checker_on_the_smp_build():
    system = System([StandinCore(0), StandinCore(1)], mode="smp", trace=_Trace())
    RunChecks(system)
    heard = {name for name, callbacks in system.tracepoints.items() if callbacks}
    assert heard == set(CHECK_POINTS)
    assert len(system.record_observers) == 1  # the scoreboard


def test_an_unknown_tracepoint_is_refused():
    system = System([StandinCore()], mode="up", trace=_Trace())
    with pytest.raises(KeyError, match="unknown tracepoint 'ipi:snet'"):
        system.on_tracepoint("ipi:snet", lambda kernel, **fields: None)


def test_a_checker_stops_the_run_as_a_panic_on_the_cpu_that_broke_the_rule():
    """Two CPUs inside one token's region: the token checker panics the second, naming both."""
    from firmware.panic import KernelPanic

    system = System([StandinCore(0), StandinCore(1)], mode="smp", trace=_Trace())
    checks = RunChecks(system)
    k0, k1 = system.kernels
    tok = system.new_token("t")
    k0.curthread = k1.curthread = None
    k0.tracepoint("token:enter", tok=tok)
    with pytest.raises(KernelPanic, match="check failed: token t: cpu 1 entered while cpu 0 is inside") as info:
        k1.tracepoint("token:enter", tok=tok)
    assert info.value.cpu == 1 and checks.tokens.entries == 1


def test_a_cpu_that_owns_a_token_again_is_inside_its_region():
    """token:reheld (lwkt_regettoken with the token already this CPU's) enters the region when the
    CPU had left it: another CPU inside then is a violation."""
    from sim.checks.checkers import TokenChecker

    system = System([StandinCore(0), StandinCore(1)], mode="smp", trace=_Trace())
    k0, k1 = system.kernels
    tok = system.new_token("t")
    checker = TokenChecker()
    checker.enter(k0, tok)
    checker.reheld(k0, tok)  # still inside: nothing changes
    assert checker.holders[tok.ram_word][0] == 1 and checker.entries == 1
    checker.given_away(k0, tok)
    checker.enter(k1, tok)
    with pytest.raises(Exception, match="entered while cpu 1 is inside"):
        checker.reheld(k0, tok)
