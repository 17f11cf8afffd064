"""The counters-against-trace check (sim/checks/counter_trace.py) on made-up runs."""

from sim.checks.counter_trace import disagreements


def _rec(cpu, event, **fields):
    return {"cpu": cpu, "event": event, **fields}


def test_counters_that_count_their_records_agree():
    records = [_rec(0, "ipi_send"), _rec(0, "ipi_send"), _rec(1, "ipi_receive"), _rec(1, "ipi_receive")]
    records += [_rec(0, "preempt", result="hit"), _rec(0, "preempt", result="miss")]
    records += [_rec(1, "mplock_try", ok=True), _rec(1, "mplock_try", ok=False), _rec(1, "mplock_try", ok=False)]
    per_cpu = [
        {"cpu": 0, "ipiq_count": 2, "preempt_hit": 1, "preempt_miss": 1},
        {"cpu": 1, "ipiq_received": 2, "mplock_acquires": 1, "mplock_contended": 2},
    ]
    assert disagreements(per_cpu, records) == []


def test_a_counter_that_stopped_counting_or_counts_the_wrong_outcome_disagrees():
    records = [_rec(0, "ipi_receive") for _ in range(5)] + [_rec(0, "preempt", result="miss")] * 3
    per_cpu = [{"cpu": 0, "ipiq_received": 0, "preempt_hit": 3, "preempt_miss": 0}]
    assert disagreements(per_cpu, records) == [
        "cpu 0: preempt_hit is 3, the trace has 0 preempt records",
        "cpu 0: preempt_miss is 0, the trace has 3 preempt records",
        "cpu 0: ipiq_received is 0, the trace has 5 ipi_receive records",
    ]


def test_a_run_stopped_between_a_counter_and_its_record_is_allowed_one():
    # lwkt_send_ipiq counts before its pushes and records after them.
    records = [_rec(2, "ipi_send")] * 4
    assert disagreements([{"cpu": 2, "ipiq_count": 5}], records) == []
    assert disagreements([{"cpu": 2, "ipiq_count": 6}], records) == [
        "cpu 2: ipiq_count is 6, the trace has 4 ipi_send records"
    ]
