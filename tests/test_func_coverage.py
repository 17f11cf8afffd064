"""The functional coverage model (sim/coverage/func.py), the hardware bins (sim/contract/hw_coverage.py) and a
small version of `make coverage` (sim/campaigns/coverage_run.py: the named runs, the directed modules and two
random seeds)."""

import json
from pathlib import Path

import pytest

from hdl import memory_map as mm
from hdl.config import SocConfig
from sim.campaigns.coverage_run import NAMED_RUNS, REGISTER_MODULES, main
from sim.coverage.func import HW_BINS, MODEL, UNREACHABLE, bins_hit, counter_hits, reachable, stimulus_for
from sim.contract.hw_coverage import HwCoverage
from sim.contract.random_spec import generate_spec
from tests.conftest import require_simulator


def test_bins_read_the_records_they_name():
    records = [
        {
            "event": "preempt",
            "result": "miss",
            "pri": 12,
            "target_pri": 27,
            "crit": 2,
            "critpri": 1,
            "cpu": 0,
            "target_cpu": 0,
            "mpheld": None,
            "tried": None,
            "tid": 3,
        },
        {
            "event": "preempt",
            "result": "hit",
            "pri": 12,
            "target_pri": 27,
            "crit": 1,
            "critpri": 1,
            "cpu": 0,
            "target_cpu": 0,
            "mpheld": True,
            "tried": None,
            "tid": 3,
        },
        {"event": "intr_deferred", "in": "lwkt_gettoken", "crit": 1, "tid": 3},
        {"event": "block_skipped", "wait": "q", "gen": 1, "wa_gen": 2, "tid": 3},
        {"event": "pick", "to": 1, "idle": 1, "tid": 3, "preempted": None, "tried": False},
        {"event": "mark", "label": "nothing"},
    ]
    hits = bins_hit(records)
    assert hits == {
        "preempt.miss-critpri": 1,
        "preempt.hit": 1,
        "preempt.lend-mpcount": 1,
        "interrupt.landed-in.lwkt_gettoken": 1,
        "interrupt.deferred": 1,
        "wait.lost-wakeup-window": 1,
        "switch.mp-fallback": 1,
        "switch.idle": 1,
    }, hits


def test_counter_and_hardware_bins_come_from_the_counters():
    counters = {
        "total": {"token_fast": 3, "trytoken_failed": 0, "signal_remote": 2},
        "hw_coverage": {"mplock.simultaneous-try": 1, "reg.sys.CPUID.read": 4, "no.such.bin": 9},
    }
    assert counter_hits(counters) == {
        "token.local-fast-path": 3,
        "signal.remote": 2,
        "hw.mplock.simultaneous-try": 1,
        "hw.reg.sys.CPUID.read": 4,
    }


def test_model_names_every_bin_once_and_justifies_the_unreachable():
    assert len(MODEL) == len(set(MODEL)) > 150
    assert set(UNREACHABLE) <= set(MODEL) and all(len(why) > 40 for why in UNREACHABLE.values())
    assert len(reachable()) == len(MODEL) - len(UNREACHABLE)
    # Every register of the contract, each legal access kind, is a bin.
    for block in mm.BLOCKS:
        for reg in block.registers:
            if reg.access.readable:
                assert f"hw.reg.{block.name}.{reg.name}.read" in HW_BINS
            if reg.access.writable:
                assert f"hw.reg.{block.name}.{reg.name}.write" in HW_BINS
    assert "hw.bus-error.own-ipi-slot" in HW_BINS and "hw.intc.claim-none" in HW_BINS


class _Port:
    def __init__(self):
        self.observers = []

    def add_observer(self, observer):
        self.observers.append(observer)


def test_hardware_observer_follows_the_contract():
    config = SocConfig(ncpu=2, fifo_depth=2, ram_words=64, ext_lines=1)
    errors = []
    cov = HwCoverage(config, lambda *error: errors.append(error)).attach([_Port(), _Port()])
    see = cov.observe
    push = mm.IPI_TX.addr("TX_ARG", slot=1)
    for n in range(3):  # 0 -> 1: levels 1, 2, then a push on full
        see(10 + n, 0, push, True, n, True, 1)
    see(20, 1, mm.IPI_RX.addr("RX_POP", slot=0), True, 0, True, 1)
    see(30, 0, mm.IPI_TX.addr("TX_ARG", slot=0), True, 0, False, 1)  # own slot: err
    see(31, 0, mm.SYS.CPUID, True, 0, False, 1)  # write of a read-only register
    see(32, 0, 0x9000, False, 0, False, 1)  # nothing decodes it
    see(40, 0, mm.MPLOCK.TRY, False, 1, True, 2)  # both presented at cycle 38
    see(41, 1, mm.MPLOCK.TRY, False, 0, True, 3)
    see(50, 1, mm.MPLOCK.RELEASE, True, 0, True, 1)  # not the owner
    see(60, 0, mm.INTC.CLAIM, False, mm.CLAIM_NONE, True, 1)
    see(61, 0, mm.INTC.COMPLETE, True, 2, True, 1)
    assert cov.hits == {
        "reg.ipi_tx.TX_ARG.write": 3,
        "ipi.level.up.2": 1,
        "ipi.push-on-full": 1,
        "reg.ipi_rx.RX_POP.write": 1,
        "ipi.level.up.1": 2,
        "bus-error.own-ipi-slot": 1,
        "bus-error.write-read-only": 1,
        "bus-error.unmapped": 1,
        "reg.mplock.TRY.read": 2,
        "mplock.simultaneous-try": 1,
        "reg.mplock.RELEASE.write": 1,
        "mplock.release-not-owner": 1,
        "reg.intc.CLAIM.read": 1,
        "intc.claim-none": 1,
        "reg.intc.COMPLETE.write": 1,
        "intc.complete-not-in-service": 1,
    }, cov.hits
    # The two protocol errors were heard as they happened: (event, the access's request cycle, CPU).
    assert errors == [("mplock.release-not-owner", 49, 1), ("intc.complete-not-in-service", 60, 0)]
    # A RELEASE by the owner and a COMPLETE of a claimed source are no errors.
    see(70, 0, mm.MPLOCK.TRY, False, 1, True, 1)
    see(71, 0, mm.MPLOCK.RELEASE, True, 0, True, 1)
    see(72, 1, mm.INTC.CLAIM, False, mm.SOURCE_TIMER, True, 1)
    see(73, 1, mm.INTC.COMPLETE, True, mm.SOURCE_TIMER, True, 1)
    assert len(errors) == 2


def test_stimulus_leans_towards_open_bins():
    weights, knobs = stimulus_for(["deschedule.remote", "preempt.weird", "mplock.contended"])
    assert weights["desched"] == 4 and weights["mplock"] == 5 and knobs == {"same_cpu": 1.0, "kick": 1.0}
    assert stimulus_for([]) == ({}, {})
    plain = generate_spec(5, 4, frozenset())
    leaning = generate_spec(5, 4, frozenset(), weights={"desched": 50})

    def count(spec):
        return sum(op[0] == "desched" for t in spec.threads for op in t.ops)

    assert count(leaning) > count(plain)


@pytest.mark.verilator
@pytest.mark.xdist_group("coverage_run")
def test_make_coverage_small(tmp_path, capsys):
    require_simulator("verilator")
    first = tmp_path / "first"
    db = tmp_path / "results.sqlite"
    rc = main(["--seeds", "2", "--no-code", "--out", str(first), "--db", str(db)])
    out = capsys.readouterr().out
    result = json.loads((first / "coverage.json").read_text())
    assert rc in (0, 1) and result["total"] == len(MODEL)
    prefix = len(NAMED_RUNS) + len(REGISTER_MODULES)  # --no-code: the directed modules on one build
    assert result["prefix_runs"] == prefix and len(result["curves"]["biased"]) == prefix + 2
    assert result["curves"]["biased"] == sorted(result["curves"]["biased"])
    assert all(r["ok"] for r in result["runs"]), result["runs"]
    assert f"functional coverage: {result['covered']}/{len(MODEL)} bins" in out
    # The directed modules make every register access kind and every bus error kind.
    assert all(result["bins"][name]["hits"] for name in HW_BINS if ".reg." in name or "bus-error" in name)
    assert result["bins"]["preempt.hit"]["first"] == "up-preempt seed 1"
    assert (first / "coverage.png").stat().st_size > 0 and "## Bins not hit" in (first / "coverage.md").read_text()
    # Each run's coverage as UCIS XML, and their sum.
    from sim.coverage.ucis import read_ucis

    assert len(list((first / "ucis").glob("*.xml"))) == prefix + 2
    merged = read_ucis(first / "coverage.ucis.xml")
    assert merged["mplock.contended"] == result["bins"]["mplock.contended"]["hits"] > 0
    # Merging: the earlier hits are added to the new runs'.
    second = tmp_path / "second"
    main(["--seeds", "0", "--no-code", "--merge", str(first), "--out", str(second), "--db", str(db)])
    merged = json.loads((second / "coverage.json").read_text())
    assert merged["covered"] >= result["covered"]
    # Every run is a run of the campaign "coverage" in the results database; each coverage-directed seed
    # ran the workload drawn for it, kept as a spec file named by its hash.
    from sim.campaigns.results_db import ResultsDB

    rows = ResultsDB(db, create=False).rows("SELECT runs.kind, configs.config FROM runs JOIN configs USING (config_id)")
    assert len(rows) == prefix + 2 and {r["kind"] for r in rows} == {"scenario", "directed"}
    specs = [json.loads(r["config"]).get("spec") for r in rows if '"random"' in r["config"]]
    assert len(specs) == 2 and all(Path(s).parent == first / "specs" and Path(s).exists() for s in specs)
    assert merged["bins"]["mplock.contended"]["hits"] > result["bins"]["mplock.contended"]["hits"] > 0
    assert merged["bins"]["preempt.hit"]["first"] == "up-preempt seed 1"
