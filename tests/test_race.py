"""The shared-RAM race detector (sim/tb/race.py) on synthetic bus accesses: no simulator."""

import pytest

from firmware.ram_layout import FREE, MPLOCK, THREAD_FIELDS, Guard, RamLayout
from sim.tb.race import RaceDetector, describe


class Lock:
    """A stand-in for SocBench.mplock_owner."""

    def __init__(self):
        self.owner = None

    def __call__(self):
        return self.owner


@pytest.fixture
def layout():
    return RamLayout(ncpu=2, ram_words=4096)


@pytest.fixture
def lock():
    return Lock()


@pytest.fixture
def det(layout, lock):
    return RaceDetector(layout, mplock_owner=lock)


class Bus:
    """Feeds accesses to a detector with a running cycle count; returns the races each one made."""

    def __init__(self, det):
        self.det, self.cycle = det, 100

    def _access(self, cpu, word, write, value):
        self.cycle += 2
        before = len(self.det.races)
        self.det(self.cycle, cpu, RamLayout.address(word), write, value)
        return self.det.races[before:]

    def read(self, cpu, word, value=0):
        return self._access(cpu, word, False, value)

    def write(self, cpu, word, value):
        return self._access(cpu, word, True, value)


@pytest.fixture
def bus(det):
    return Bus(det)


def field(base, name):
    return base + THREAD_FIELDS[name]


# -- token-guarded regions -------------------------------------------------------------------------


def test_token_data_owner_fine_other_cpu_races(layout, det, bus):
    tok = layout.new_token("tok")
    data = layout.new_data("counter", 2, Guard("token", tok))
    # RAM starts zeroed: CPU 0 owns every token.
    assert bus.read(0, data) == [] and bus.write(0, data + 1, 5) == []
    [race] = bus.write(1, data + 1, 6)
    assert race == {
        "cycle": bus.cycle,
        "cpu": 1,
        "address": RamLayout.address(data + 1),
        "word": data + 1,
        "region": "counter",
        "access": "write",
        "guard": f"token at word {tok}",
        "holder": "cpu 0",
    }
    message = describe(race)
    assert message.startswith("race: ")
    for text in (f"cycle {bus.cycle}", "cpu 1", f"{RamLayout.address(data + 1):#010x}", "counter", "cpu 0"):
        assert text in message
    # Reads are guarded too.
    [race] = bus.read(1, data)
    assert race["access"] == "read" and "read" in describe(race)
    assert det.checked == 4 and len(det.races) == 2


def test_holds_are_per_context_on_one_cpu(layout, det, bus):
    """A thread of CPU 0 holds the token; an interrupt frame on its stack (level 1) that touches the
    data without a hold of its own races with it, though CPU 0 owns the token. With a hold of its
    own, or once the thread has let go, it does not; another CPU's thread is still judged by
    ownership. A token given away drops its CPU's holds."""
    tok = layout.new_token("tok")
    data = layout.new_data("counter", 1, Guard("token", tok))
    now = {0: (5, 0), 1: (9, 0)}  # cpu -> (thread id, nesting level)
    det.context_of = now.__getitem__
    det.entered(0, tok)
    assert bus.write(0, data, 1) == []
    now[0] = (5, 1)  # an interrupt lands on td 5's stack
    [race] = bus.write(0, data, 2)
    assert race["guard"] == f"a hold of the token at word {tok} in this context (td 5, level 1)"
    assert race["holder"] == "cpu 0 td 5 at thread"
    det.entered(0, tok)  # the handler takes the token itself (lwkt_trytoken succeeds: cpu 0 owns it)
    assert bus.write(0, data, 3) == []
    det.left(0, tok)
    now[0] = (5, 0)
    det.left(0, tok)  # the thread lets go: no context holds it, ownership alone decides
    now[0] = (7, 0)
    assert bus.write(0, data, 4) == []
    det.entered(0, tok)  # td 7 holds it, then hands the token over
    det.given_away(0, tok)
    now[0] = (8, 0)
    assert bus.read(0, data) == []


def test_ownership_moves_with_t_cpu_writes(layout, det, bus):
    tok = layout.new_token("tok")
    data = layout.new_data("shared", 1, Guard("token", tok))
    assert bus.write(0, tok + 1, 1) == []  # t_reqcpu: the protocol words are free
    assert bus.write(0, tok, 1) == []  # CPU 0 hands the token to CPU 1
    assert det.owner_of_token(tok) == 1
    assert bus.write(1, data, 1) == [] and bus.read(1, data) == []
    assert len(bus.write(0, data, 2)) == 1
    assert bus.write(1, tok, 0) == []  # and back
    assert bus.write(0, data, 3) == [] and len(bus.read(1, data)) == 1


def test_waitqueue_token_guards_the_queue_words(layout, det, bus):
    wq = layout.new_waitqueue("wq")
    head = wq + 3
    assert bus.write(0, head, 9) == []
    assert len(bus.read(1, head)) == 1
    bus.write(0, wq, 1)  # the queue's token is its first word
    assert bus.read(1, head) == [] and len(bus.write(0, head, 0)) == 1


def test_writes_only_guard_leaves_reads_free(layout, bus):
    tok = layout.new_token("tok")
    data = layout.new_data("peek", 1, Guard("token", tok, reads_guarded=False))
    assert bus.read(1, data) == []
    assert len(bus.write(1, data, 1)) == 1


def test_free_words_are_unchecked_and_unallocated_ones_are_races(layout, det, bus):
    free = layout.new_data("scratch", 1, FREE)
    assert bus.write(1, free, 1) == [] and bus.read(0, free) == []
    assert det.accesses == 2 and det.checked == 0
    # A word no region holds: a stray pointer, read or written.
    [race] = bus.write(1, layout.data.base + 50, 1)
    assert race["region"] == "unallocated" and race["guard"] == "an allocated region"
    assert "unallocated" in describe(race)
    assert len(bus.read(0, layout.data.base + 51)) == 1


def test_only_the_owner_moves_a_token(layout, det, bus):
    tok = layout.new_token("tok")
    [race] = bus.write(1, tok, 1)  # CPU 1 takes the token CPU 0 owns: no hand-off can do that
    assert race["guard"] == "ownership of the token (t_cpu)" and race["holder"] == "cpu 0"
    assert bus.write(1, tok, det.owner_of_token(tok)) == []  # a write that moves nothing
    assert bus.write(1, tok, 0) == [] and bus.write(0, tok, 1) == []  # the owner hands it over


def test_regions_allocated_after_the_detector_are_seen(layout, det, bus):
    first = layout.new_data("first", 1, FREE)
    assert bus.write(1, first, 1) == []
    tok = layout.new_token("late")
    late = layout.new_data("late", 1, Guard("token", tok))
    assert len(bus.write(1, late, 1)) == 1


# -- MP lock and writer regions --------------------------------------------------------------------


def test_mplock_region(layout, lock, bus):
    data = layout.new_data("giant", 1, MPLOCK)
    [race] = bus.write(1, data, 1)
    assert race["guard"] == "MP lock" and race["holder"] == "nobody"
    lock.owner = 1
    assert bus.write(1, data, 1) == [] and bus.read(1, data) == []
    [race] = bus.read(0, data)
    assert race["holder"] == "cpu 1"


def test_writer_regions(layout, bus):
    words = [layout.new_data(f"word[{cpu}]", 1, Guard("writer", cpu)) for cpu in (0, 1)]
    assert bus.write(0, words[0], 1) == []
    assert bus.write(1, words[1], 1) == []
    assert bus.read(0, words[1]) == []  # anyone reads
    [race] = bus.write(1, words[0], 2)
    assert race["region"] == "word[0]" and race["holder"] == "cpu 0"
    assert race["guard"] == "written by cpu 0"


def test_no_probe_means_nobody_holds_the_mplock(layout):
    det = RaceDetector(layout)
    data = layout.new_data("giant", 1, MPLOCK)
    det(1, 0, RamLayout.address(data), True, 1)
    assert det.races[0]["holder"] == "nobody"


def test_on_race_is_called_with_the_record(layout):
    seen = []
    det = RaceDetector(layout, on_race=seen.append)
    det(3, 1, RamLayout.address(layout.new_data("word[0]", 1, Guard("writer", 0))), True, 1)
    assert seen == det.races and len(seen) == 1


# -- thread records --------------------------------------------------------------------------------


def publish(bus, td, cpu, tid=1):
    """What lwkt_init_thread writes of a record (firmware/shared.py publish_thread), in its order."""
    races = []
    for name in ("td_wait", "td_wmesg", "td_refs", "td_wnext", "td_wprev", "td_pri", "td_mpcount"):
        races += bus.write(cpu, field(td, name), 0)
    races += bus.write(cpu, field(td, "td_cpu"), cpu)
    races += bus.write(cpu, field(td, "td_flags"), 0)
    races += bus.write(cpu, field(td, "td_pri"), 32)  # not queued, not running: saved for lwkt_acquire
    return races


def create(bus, layout, cpu, tid=1):
    """A thread record filled in by ``cpu``, owned by ``cpu``."""
    td = layout.new_thread_record(tid)
    assert publish(bus, td, cpu, tid) == []
    return td


def test_record_creation_is_free(layout, bus):
    # CPU 1 creates a thread although td_cpu reads 0 in a zeroed RAM, with no MP lock (td_refs).
    td = layout.new_thread_record(1)
    assert publish(bus, td, 1) == []


def test_reusing_a_cached_record_is_the_owners(layout, lock, bus):
    td = create(bus, layout, 1)
    lock.owner = 0
    bus.write(0, field(td, "td_refs"), 1)  # lwkt_hold from CPU 0
    bus.write(0, field(td, "td_refs"), 0)  # lwkt_rele
    lock.owner = None
    # The thread exited into CPU 1's free cache and is initialised again: bzero stores 0 over 0.
    assert publish(bus, td, 1, tid=2) == []
    # Not while a hold is outstanding, and never from another CPU.
    lock.owner = 0
    bus.write(0, field(td, "td_refs"), 1)
    lock.owner = None
    [race] = publish(bus, td, 1, tid=3)
    assert race["region"] == "td record 0 td_refs" and race["guard"] == "MP lock"
    races = publish(bus, td, 0, tid=4)
    # (td_flags is written after td_cpu moved to CPU 0, so by its owner.)
    assert [r["region"].split()[-1] for r in races] == [
        "td_wait",
        "td_wmesg",
        "td_refs",
        "td_wnext",
        "td_wprev",
        "td_pri",
        "td_mpcount",
        "td_cpu",
    ]


def test_td_cpu_moves_under_the_mplock(layout, lock, bus, det):
    td = create(bus, layout, 0)
    assert bus.read(1, field(td, "td_cpu")) == []  # reads are free (IPI destination)
    [race] = bus.write(1, field(td, "td_cpu"), 1)
    assert race["region"] == "td record 0 td_cpu" and race["holder"] == "td_cpu cpu 0, MP lock nobody"
    assert det.td_owner[td] == 1  # the write happened all the same
    assert bus.write(1, field(td, "td_cpu"), 0) == []  # now the owner's
    lock.owner = 1
    assert bus.write(1, field(td, "td_cpu"), 1) == []  # lwkt_acquire
    assert bus.write(1, field(td, "td_flags"), 4) == []
    assert len(bus.write(0, field(td, "td_flags"), 0)) == 1


@pytest.mark.parametrize("name", ["td_flags", "td_pri", "td_mpcount"])
def test_what_lwkt_acquire_reads_is_the_owners(layout, lock, bus, name):
    td = create(bus, layout, 0)
    assert bus.write(0, field(td, name), 2) == [] and bus.read(0, field(td, name)) == []
    assert len(bus.read(1, field(td, name))) == 1
    lock.owner = 1
    assert bus.read(1, field(td, name)) == []  # read under the MP lock (lwkt_acquire)
    assert len(bus.write(1, field(td, name), 0)) == 1  # but written by the owner only


def test_td_refs_need_the_mplock_to_write(layout, lock, bus):
    td = create(bus, layout, 0)
    [race] = bus.write(0, field(td, "td_refs"), 1)
    assert race["guard"] == "MP lock" and race["region"] == "td record 0 td_refs"
    lock.owner = 1
    assert bus.write(1, field(td, "td_refs"), 1) == []  # lwkt_hold from another CPU
    assert bus.read(0, field(td, "td_refs")) == []


def test_td_wait_dynamic_guard(layout, det, bus):
    wq = layout.new_waitqueue("wq")
    td = create(bus, layout, 1)
    wait, wnext, wprev, wmesg = (field(td, n) for n in ("td_wait", "td_wnext", "td_wprev", "td_wmesg"))
    # Blocking on CPU 1 without the queue's token (CPU 0 has it) is a race.
    [race] = bus.write(1, wait, wq)
    assert race["guard"] == f"token at word {wq} (the queue td_wait is set to)" and race["holder"] == "cpu 0"
    bus.write(0, wait, 0)  # (undo: CPU 0 holds the token it was set under)
    assert det.races[1:] == []
    # Properly: the token comes to CPU 1, then td_wait is set and the links written under it.
    bus.write(0, wq, 1)
    assert bus.write(1, wait, wq) == []
    assert bus.write(1, wnext, 0) == [] and bus.write(1, wprev, 0) == [] and bus.write(1, wmesg, 3) == []
    # The token moves to CPU 0 (a signaller): the links follow the token, not the thread's owner.
    bus.write(1, wq, 0)
    assert bus.read(0, wnext) == [] and bus.write(0, wprev, 0) == []
    [race] = bus.read(1, wmesg)
    assert race["guard"] == f"token at word {wq} (td_wait)" and race["holder"] == "cpu 0"
    # td_wait itself is read freely (lwkt_schedule picks the token to try from it, unlocked).
    assert bus.read(1, wait) == [] and bus.read(0, wait) == []
    # Clearing needs the old queue's token: the thread's owner does not have it.
    [race] = bus.write(1, wait, 0)
    assert race["guard"] == f"token at word {wq} (the queue td_wait is cleared from)" and race["holder"] == "cpu 0"
    assert bus.write(0, wait, wq) == []  # (back on the queue, by the token's holder)
    assert bus.write(0, wait, 0) == []  # lwkt_signal takes it off
    # Cleared: the links are the owner's alone again.
    assert len(bus.write(0, wnext, 0)) == 1
    assert bus.write(1, wnext, 0) == [] and bus.read(1, wmesg) == []
    assert bus.read(0, wait) == []


def test_clearing_a_clear_td_wait_is_the_owners(layout, bus):
    td = create(bus, layout, 0)
    assert bus.write(0, field(td, "td_wait"), 0) == []
    assert len(bus.write(1, field(td, "td_wait"), 0)) == 1


def test_regettoken_gives_a_context_its_hold_back(layout):
    """Two threads of CPU 0 hold a wait queue's token across their switches (tokens belong to CPUs):
    after the token went to CPU 1 and thread B fetched it back, thread A, resumed, touches the queue
    only after lwkt_regettoken."""
    context = {"td": 1}
    det = RaceDetector(layout)
    det.context_of = lambda cpu: (context["td"], 0)
    wq = layout.new_waitqueue("wq")
    head = RamLayout.address(wq + 3)
    det(1, 0, RamLayout.address(wq), True, 0)  # t_cpu = 0
    det.entered(0, wq)  # A: lwkt_gettoken, then it blocks (the token stays CPU 0's)
    det(2, 0, RamLayout.address(wq), True, 1)  # CPU 1 asks: CPU 0 hands it over
    det.given_away(0, wq)
    det(3, 1, RamLayout.address(wq), True, 0)  # ... and CPU 1 hands it back when B asks
    context["td"] = 2
    det.entered(0, wq)
    det(4, 0, head, False, 0)
    assert det.races == []
    context["td"] = 1  # A runs again: without regettoken its access rides on B's hold
    det(5, 0, head, False, 0)
    assert len(det.races) == 1
    det.reheld(0, wq)
    det(6, 0, head, False, 0)
    assert len(det.races) == 1
