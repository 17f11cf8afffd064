"""The cost model: its tables, the figures measured on the seeds, JSON tables, and the option."""

import json
import re
from pathlib import Path

import pytest

from firmware.cost_model import DEFAULT, DEFAULT_SMP, DEFAULT_UP, OPERATIONS, ZERO, CostModelError, load_cost_model
from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
MEASURED = json.loads((ROOT / "bench" / "seed_cost.json").read_text())

#: Table entries that are one measured case of bench/seed_cost.py, as (case, seed): v1.18 for the
#: smp table, v1.12 for the up table (where the function exists there).
ONE_CASE = {
    "crit_enter": "crit_enter",
    "crit_exit": "crit_exit (no yield)",
    "_lwkt_enqueue": "_lwkt_enqueue",
    "_lwkt_dequeue": "_lwkt_dequeue",
    "lwkt_yield_quick": "lwkt_yield_quick",
    "lwkt_yield": "lwkt_yield",
    "lwkt_schedule_self": "lwkt_schedule_self",
    "lwkt_schedule": "lwkt_schedule/local",
    "lwkt_deschedule_self": "lwkt_deschedule_self",
    "lwkt_deschedule": "lwkt_deschedule/local",
    "lwkt_setpri": "lwkt_setpri/not queued",
    "lwkt_block": "lwkt_block",
    "lwkt_signal": "lwkt_signal/0 waiters",
    "lwkt_gettoken": "lwkt_gettoken/local",
    "lwkt_reltoken": "lwkt_reltoken/local",
    "lwkt_regettoken": "lwkt_regettoken/local",
    "lwkt_alloc_thread": "lwkt_alloc_thread/cache",
    "lwkt_init_thread": "lwkt_init_thread",
    "lwkt_free_thread": "lwkt_free_thread",
    "lwkt_create": "lwkt_create",
    "lwkt_exit": "lwkt_exit",
    "lwkt_switch": "lwkt_switch/idle",
    "lwkt_switch_scan": "lwkt_switch/per empty queue",
}
ONE_CASE_SMP = {
    "lwkt_trytoken": "lwkt_trytoken/local",
    "lwkt_gettoken_remote": "lwkt_gettoken_remote",
    "lwkt_inittoken": "lwkt_inittoken",
    "lwkt_acquire": "lwkt_acquire",
    "lwkt_send_ipiq": "lwkt_send_ipiq",
    "lwkt_wait_ipiq": "lwkt_wait_ipiq/done",
    "lwkt_wait_ipiq_poll": "lwkt_wait_ipiq/per poll",
    "lwkt_process_ipiq_source": "lwkt_process_ipiq/per empty source",
    "lwkt_process_ipiq_message": "lwkt_process_ipiq/per message",
    "lwkt_signal_wake": "lwkt_signal/per extra woken thread",
}


def _measured(seed: str, case: str) -> int:
    cases = MEASURED["cases"] if seed == "v1.18" else MEASURED["v1.12"]["cases"]
    return cases[case]["instructions_per_call"]


def test_every_table_names_every_operation():
    for table in (DEFAULT_SMP, DEFAULT_UP, ZERO.cycles("up"), ZERO.cycles("smp")):
        assert set(table) == set(OPERATIONS)
        assert all(isinstance(v, int) and v >= 0 for v in table.values())
    assert set(ZERO.cycles("smp").values()) == {0}


@pytest.mark.parametrize("operation", sorted(ONE_CASE))
def test_default_figures_are_the_measured_ones(operation):
    case = ONE_CASE[operation]
    assert DEFAULT_SMP[operation] == _measured("v1.18", case)
    assert DEFAULT_UP[operation] == _measured("v1.12", case)


@pytest.mark.parametrize("operation", sorted(ONE_CASE_SMP))
def test_default_smp_figures_are_the_measured_ones(operation):
    assert DEFAULT_SMP[operation] == _measured("v1.18", ONE_CASE_SMP[operation])


def test_split_figures_add_up_to_the_measured_paths():
    smp, up = DEFAULT_SMP, DEFAULT_UP
    # lwkt_switch picking a thread from one non-empty queue: body + one queue looked at + the rotation.
    for table, seed in ((smp, "v1.18"), (up, "v1.12")):
        assert table["lwkt_switch"] + table["lwkt_switch_scan"] + table["lwkt_switch_pick"] == _measured(
            seed, "lwkt_switch/pick"
        )
        assert table["lwkt_preempt"] + table["lwkt_preempt_hit"] == _measured(seed, "lwkt_preempt/hit")
        assert table["lwkt_preempt"] == _measured(seed, "lwkt_preempt/miss")
    assert smp["lwkt_gettoken"] + smp["lwkt_gettoken_request"] == _measured("v1.18", "lwkt_gettoken/remote")
    assert smp["lwkt_process_ipiq"] + 3 * smp["lwkt_process_ipiq_source"] == _measured(
        "v1.18", "lwkt_process_ipiq/3 empty sources"
    )


def test_every_operation_is_charged_by_the_kernel():
    """Each operation is charged somewhere: by name in a costs lookup, or as a decorated function."""
    source = "\n".join(p.read_text() for p in (ROOT / "firmware").glob("*.py"))
    looked_up = set(re.findall(r'costs\["([a-z_]+)"\]', source))
    decorated = set(re.findall(r"@kernel_function\s+async def ([a-z_]+)", source))
    decorated |= set(re.findall(r'@kernel_function\(cost="([a-z_]+)"\)', source))
    attributes = {"crit_enter", "crit_exit"}  # cached on the kernel (_crit_enter_cost, ...)
    missing = set(OPERATIONS) - looked_up - decorated - attributes
    assert not missing, missing


def test_json_table_overrides_a_base(tmp_path):
    path = tmp_path / "slow-switch.json"
    path.write_text(json.dumps({"base": "zero", "cycles": {"td_switch": 500}, "name": "slow switch"}))
    model = load_cost_model(str(path))
    assert model.name == "slow switch"
    for mode in ("up", "smp"):
        assert model.cycles(mode)["td_switch"] == 500 and model.cycles(mode)["crit_exit"] == 0
    path.write_text(json.dumps({"cycles": {"crit_exit": 1}}))
    model = load_cost_model(str(path))
    assert model.cycles("smp")["crit_exit"] == 1
    assert model.cycles("smp")["lwkt_switch"] == DEFAULT_SMP["lwkt_switch"]
    assert model.cycles("up")["lwkt_switch"] == DEFAULT_UP["lwkt_switch"]
    assert load_cost_model("zero") is ZERO and load_cost_model("default") is DEFAULT


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not JSON"),
        ('{"cycles": {"lwkt_bogus": 3}}', "unknown operation 'lwkt_bogus'"),
        ('{"cycles": {"td_switch": -1}}', "td_switch must be a whole number"),
        ('{"cycles": {"td_switch": 2.5}}', "td_switch must be a whole number"),
        ('{"cycles": {"td_switch": true}}', "td_switch must be a whole number"),
        ('{"base": "fast"}', "base must be zero or default"),
        ('{"cycle": {}}', "unknown key 'cycle'"),
        ("[1, 2]", "expected an object"),
    ],
)
def test_bad_json_tables_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "table.json"
    path.write_text(content)
    with pytest.raises(CostModelError) as exc:
        load_cost_model(str(path))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_missing_table_is_a_usage_error(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--scenario",
                "up-basic",
                "--cost-model",
                str(tmp_path / "none.json"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err and "zero, default or a JSON file" in err


def test_the_documented_table_is_current():
    """docs/cost-model.md lists every operation with the table's figures."""
    rows = {}
    for line in (ROOT / "docs" / "cost-model.md").read_text().splitlines():
        m = re.match(r"\| `([a-z_]+)` \| .* \| (\d+) \| (\d+) \| ", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    assert rows == {op: (DEFAULT_SMP[op], DEFAULT_UP[op]) for op in OPERATIONS}
