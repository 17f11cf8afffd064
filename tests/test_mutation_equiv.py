"""``python -m sim.mutation.equiv``: an hdl mutant proven equivalent to the design by yosys, or shown
not to be, at small SoC sizes."""

from pathlib import Path

from sim.mutation import generate
from sim.mutation.equiv import main, prove_equivalent

ROOT = Path(__file__).resolve().parent.parent


def _mutant(file: str, operator: str, text: str):
    """The first mutant of ``operator`` on the line of ``file`` that holds ``text`` (found anew if lines move)."""
    lines = (ROOT / file).read_text().splitlines()
    found = [m for m in generate(ROOT / file, ROOT) if m.operator == operator and text in lines[m.line - 1]]
    assert found and len({m.line for m in found}) == 1, [m.id for m in found]
    return min(found, key=lambda m: m.col)


def test_a_wider_index_signal_is_proven_equivalent(tmp_path):
    """A 33-bit copy of an RX port's write index, only ever compared with and subtracted from 32-bit
    values whose results are cut to 32 bits: equivalent, and yosys proves it on the 2-CPU SoC."""
    m = _mutant("hdl/ipi.py", "int-plus-one", 'rwindex, rrindex = Signal(32, name=f"rx{c}_windex")')
    ok, how = prove_equivalent(m.id, 2, 2, tmp_path)
    assert ok and how == "proven by equiv_induct", how


def test_a_changed_answer_is_not_equivalent(tmp_path, capsys):
    """dat_r = 1 instead of 0 when no read is answered: the proof names the port bit that differs."""
    m = _mutant("hdl/tile.py", "int-plus-one", "bus.dat_r.eq(Mux(done & ~bus.we, rdata, 0))")
    assert main([m.id, "--size", "1,0", "--work", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "NOT PROVEN" in out and "dat_r" in out, out


def test_bad_ids_and_sizes_are_refused_in_one_line(capsys):
    assert main(["hdl/tile.py:1:0:int-plus-one:0:deadbeef"]) == 2
    assert main(["firmware/lwkt.py:1:0:int-plus-one:0:deadbeef"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("equiv: error: ") for line in err), err
