"""The kernel without a simulator: the uniprocessor kernel on the pure-Python stand-in core
(tests/standin_core.py).

NOT co-verification: no RTL runs here. These tests show that firmware/ depends only on the core
protocol, and check scheduling logic in milliseconds; the same behaviour is tested on the RTL, on
both simulators, in sim/tb/directed/up_kernel.py.
"""

import subprocess
import sys

from firmware.cost_model import DEFAULT, ZERO
from firmware.thread import TDPRI_KERN_DAEMON, TDPRI_KERN_USER
from tests.standin_core import run_standin


def _priority_workload(cost_model):
    order = []

    async def worker(td, arg):
        for i in range(3):
            order.append((td.td_comm, i))
            await td.k.cpu.work(10)
            await td.k.lwkt_yield()

    async def finisher(td, arg):
        td.k.system.finish()

    async def start(k):
        for name, pri in (("lo", TDPRI_KERN_USER), ("hiA", TDPRI_KERN_DAEMON), ("hiB", TDPRI_KERN_DAEMON)):
            await k.lwkt_create(worker, None, comm=name, pri=pri)
        await k.lwkt_create(finisher, None, comm="end", pri=1)

    return *run_standin(start, cost_model=cost_model), order


def test_strict_priority_and_round_robin_without_a_simulator():
    system, _, order = _priority_workload(ZERO)
    assert system.outcome == "done" and system.panic is None
    assert order == [
        ("hiA", 0),
        ("hiB", 0),
        ("hiA", 1),
        ("hiB", 1),
        ("hiA", 2),
        ("hiB", 2),
        ("lo", 0),
        ("lo", 1),
        ("lo", 2),
    ]
    switches = [(r["thread"], r["to_thread"]) for r in system.trace.records if r["event"] == "switch"]
    assert switches[:3] == [("idle0", "hiA"), ("hiA", "hiB"), ("hiB", "hiA")]
    assert system.kernels[0].cpu.kernel_cycles == 0


def test_kernel_execution_costs_cycles_from_the_table():
    zero, zero_checks, _ = _priority_workload(ZERO)
    default, default_checks, order = _priority_workload(DEFAULT)
    assert order[0] == ("hiA", 0)
    core = default.kernels[0].cpu
    assert core.kernel_cycles > 0 and core.work_cycles == zero.kernels[0].cpu.work_cycles
    # The same decisions take longer: every switch includes lwkt_switch and the machine switch.
    assert min(default_checks.stats.switches) > max(zero_checks.stats.switches)
    assert min(default_checks.stats.switches) >= DEFAULT.cycles("up")["lwkt_switch"] + DEFAULT.cycles("up")["td_switch"]


def test_a_panic_names_cpu_thread_and_cycle_without_a_simulator():
    async def bad(td, arg):
        k = td.k
        await k.cpu.work(7)
        await k.crit_exit()  # one too many

    async def start(k):
        await k.lwkt_create(bad, None, comm="bad", pri=TDPRI_KERN_DAEMON)

    system, _ = run_standin(start)
    assert system.outcome == "panic"
    assert "td_pri is/would-go negative" in system.panic.message
    assert (system.panic.cpu, system.panic.thread) == (0, "bad")


def test_firmware_imports_no_simulator():
    code = (
        "import sys, firmware.system, firmware.smp, firmware.watchdog; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cocotb', 'sim')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
