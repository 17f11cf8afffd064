"""The functional coverage of runs as UCIS XML (Accellera's Unified Coverage Interoperability
Standard), written and read with pyucis, so that standard coverage tools can read it.

    python -m sim.coverage.ucis RUN_DIR [--out FILE]            one run -> its coverage.ucis.xml
    python -m sim.coverage.ucis --merge FILE... --out FILE      sum several UCIS XML files
    python -m sim.coverage.ucis --read FILE                     print a file's bins and hits

The model (``sim/coverage/func.py``'s bins, named ``prefix.rest``) maps onto UCIS as: one design
unit and instance ``lwkt_soc``, one covergroup ``lwkt_kernel``, one coverpoint per first dotted
part of the bin names (``preempt``, ``interrupt``, ``switch``, ...), one bin per bin name (its
full dotted name, so that a file reads back to the same names) with its hit count and
``at_least`` 1, and a test history record naming the run (scenario and seed, its status, its
simulated cycles and wall time). Bin descriptions go into the coverpoint's user attributes.

pyucis validates every XML file it reads against the UCIS schema it ships (``ucis.xsd``), so
:func:`read_ucis` is the schema check as well; ``pyucis report FILE`` (the ``ucis`` command) reads
the same files. :func:`merge_ucis` uses pyucis's own merger (``DbMerger``): bins are summed by
name, history records are kept one per run.
"""

from __future__ import annotations

import argparse
import getpass
import io
import os
import sys
import time
from pathlib import Path

from hdl.config import TOPLEVEL
from sim.contract.outdir import atomic_write
from sim.contract.errors import EXIT_OK, EnvironmentProblem, UsageError, report_error

__all__ = ["write_ucis", "read_ucis", "merge_ucis", "build_db", "UCIS_FILE", "COVERGROUP", "main"]

#: A run's UCIS file (in sim/contract/outdir.py's OUTPUT_FILES).
UCIS_FILE = "coverage.ucis.xml"
COVERGROUP = "lwkt_kernel"
INSTANCE = TOPLEVEL


def _ucis():
    """pyucis's modules (imported on first use: the package is large)."""
    import ucis
    from ucis.mem.mem_factory import MemFactory
    from ucis.xml.xml_factory import XmlFactory

    return ucis, MemFactory, XmlFactory


def _coverpoint(name: str) -> str:
    return name.split(".", 1)[0]


def build_db(
    hits: dict[str, int],
    descriptions: dict[str, str],
    *,
    test_name: str,
    seed: int | None = None,
    ok: bool = True,
    sim_cycles: int | None = None,
    wall_seconds: float | None = None,
    command: str | None = None,
    covergroup: str = COVERGROUP,
    physical_name: str | None = None,
):
    """The in-memory UCIS database (pyucis ``MemUCIS``) of one run's bins.

    Every bin of ``descriptions`` is written, hit or not; bins in ``hits`` that have no
    description are written too (with none)."""
    _, MemFactory, _ = _ucis()
    from ucis import (
        UCIS_ENABLED_STMT,
        UCIS_ENABLED_BRANCH,
        UCIS_INST_ONCE,
        UCIS_SCOPE_UNDER_DU,
        UCIS_DU_MODULE,
        UCIS_INSTANCE,
        UCIS_OTHER,
        UCIS_VLOG,
        UCIS_CVGBIN,
    )
    from ucis.history_node_kind import HistoryNodeKind
    from ucis.test_status_t import TestStatusT
    from ucis.source_info import SourceInfo

    db = MemFactory.create()
    db.setWrittenBy(getpass.getuser())
    db.setWrittenTime(int(time.time()))
    # A test record's physical name: the file its coverage data went to.
    test = db.createHistoryNode(None, test_name, physical_name or test_name, HistoryNodeKind.TEST)
    # UCIS XML's testStatus is a boolean and pyucis writes the status's truth (every TestStatusT is
    # true, FATAL too): a failed run must be False to read back as failed.
    test.setTestStatus(TestStatusT.OK if ok else False)
    if seed is not None:
        test.setSeed(str(seed))
    if sim_cycles is not None:
        test.setSimTime(float(sim_cycles))
        test.setTimeUnit("cycles")
    if wall_seconds is not None:
        test.setCpuTime(float(wall_seconds))
    test.setRunCwd(os.getcwd())
    test.setCmd(command or "lwkt-soc run")
    test.setUserName(getpass.getuser())
    test.setToolCategory("simulation")
    test.setVendorId("lwkt-soc")
    test.setVendorTool("lwkt-soc (cocotb)")
    test.setVendorToolVersion(_version())

    source = db.createFileHandle("sim/coverage/func.py", os.getcwd())
    du = db.createScope(
        INSTANCE,
        SourceInfo(source, 1, 0),
        1,
        UCIS_VLOG,
        UCIS_DU_MODULE,
        UCIS_ENABLED_STMT | UCIS_ENABLED_BRANCH | UCIS_INST_ONCE | UCIS_SCOPE_UNDER_DU,
    )
    inst = db.createInstance(INSTANCE, None, 1, UCIS_OTHER, UCIS_INSTANCE, du, UCIS_INST_ONCE)
    cg = inst.createCovergroup(covergroup, None, 1, UCIS_OTHER)
    cg.setAtLeast(1)
    names = list(descriptions) + [n for n in hits if n not in descriptions]
    points: dict[str, object] = {}
    for name in names:
        if not isinstance(name, str) or not name:
            raise UsageError(f"bin name {name!r}: must be a non-empty string")
        count = hits.get(name, 0)
        if not isinstance(count, int) or count < 0:
            raise UsageError(f"bin {name}: hit count {count!r} is not a count")
        cp_name = _coverpoint(name)
        cp = points.get(cp_name)
        if cp is None:
            cp = points[cp_name] = cg.createCoverpoint(cp_name, None, 1, UCIS_OTHER)
            cp.setAtLeast(1)
        cp.createBin(name, None, 1, count, name, UCIS_CVGBIN)
        if descriptions.get(name):
            cp.setAttribute(name, descriptions[name])
    return db


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lwkt-soc")
    except Exception:  # not installed (a plain checkout): the version is only informative
        return "unknown"


def write_ucis(
    hits: dict[str, int],
    descriptions: dict[str, str],
    path: Path | str,
    *,
    test_name: str,
    seed: int | None = None,
    ok: bool = True,
    sim_cycles: int | None = None,
    wall_seconds: float | None = None,
    command: str | None = None,
    covergroup: str = COVERGROUP,
) -> Path:
    """Write one run's bins as UCIS XML at ``path`` (under a temporary name, then renamed)."""
    db = build_db(
        hits,
        descriptions,
        test_name=test_name,
        seed=seed,
        ok=ok,
        sim_cycles=sim_cycles,
        wall_seconds=wall_seconds,
        command=command,
        covergroup=covergroup,
        physical_name=str(path),
    )
    return _write(db, Path(path))


def _write(db, path: Path) -> Path:
    _, _, XmlFactory = _ucis()
    text = io.StringIO()
    XmlFactory.write(db, text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.getvalue())
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write it ({exc.strerror or exc})") from None
    return path


def _read_db(path: Path):
    _, _, XmlFactory = _ucis()
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such UCIS file")
    try:
        return XmlFactory.read(str(path))  # validates against pyucis's ucis.xsd first
    except Exception as exc:  # lxml's schema and syntax errors, and the reader's own
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not a valid UCIS XML file ({first})") from None


def _bins(db) -> dict[str, int]:
    """The covergroup bins of a database: the type coverage (the XML reader rebuilds it as the sum of
    the instances), summed over every instance and covergroup of the file."""
    from ucis import UCIS_INSTANCE, UCIS_COVERGROUP, UCIS_COVERPOINT, UCIS_CVGBIN

    hits: dict[str, int] = {}
    for inst in db.scopes(UCIS_INSTANCE):
        for cg in inst.scopes(UCIS_COVERGROUP):
            for cp in cg.scopes(UCIS_COVERPOINT):
                for item in cp.coverItems(UCIS_CVGBIN):
                    name = item.getName()
                    hits[name] = hits.get(name, 0) + int(item.getCoverData().data)
    return hits


def read_ucis(path: Path | str) -> dict[str, int]:
    """bin name -> hits, of a UCIS XML file (written by :func:`write_ucis` or another tool)."""
    return _bins(_read_db(Path(path)))


def read_tests(path: Path | str) -> list[dict]:
    """The test history records of a UCIS XML file: name, seed, status."""
    from ucis.history_node_kind import HistoryNodeKind

    db = _read_db(Path(path))
    return [
        {"name": h.getLogicalName(), "seed": h.getSeed(), "ok": bool(h.getTestStatus())}
        for h in db.historyNodes(HistoryNodeKind.ALL)
    ]


def merge_ucis(paths, out: Path | str) -> dict[str, int]:
    """Sum the bins of several UCIS XML files into ``out`` (pyucis's DbMerger); returns the sums."""
    from ucis.merge.db_merger import DbMerger

    _, MemFactory, _ = _ucis()
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no UCIS files to merge")
    out = Path(out)
    if out.resolve() in {p.resolve() for p in paths}:
        raise UsageError(f"--out {out}: is one of the inputs; choose another file")
    dbs = [_read_db(p) for p in paths]
    merged = MemFactory.create()
    DbMerger().merge(merged, dbs)
    _write(merged, out)
    return _bins(merged)


def export_run(run_dir: Path | str, out: Path | str | None = None) -> Path:
    """Write the UCIS file of one finished run folder (its trace, through the bins of
    ``sim/coverage/func.py``): ``RUN_DIR/coverage.ucis.xml`` unless ``out``."""
    from sim.coverage.func import MODEL, run_hits
    from sim.reports.run_files import RunFiles

    files = RunFiles(run_dir)
    report = files.report(complete=False)
    config = files.config()
    hits = run_hits(run_dir)
    scenario = report.get("scenario") or (config.scenario if config else Path(run_dir).name)
    seed = report.get("seed", config.seed if config else None)
    return write_ucis(
        hits,
        MODEL,
        Path(out) if out else Path(run_dir) / UCIS_FILE,
        test_name=f"{scenario} seed {seed}" if seed is not None else str(scenario),
        seed=seed,
        ok=bool(report.get("ok")),
        sim_cycles=report.get("cycles"),
        wall_seconds=report.get("wall_seconds"),
        command=f"lwkt-soc run --scenario {scenario} --seed {seed}",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.coverage.ucis", description="Functional coverage of runs as UCIS XML (pyucis)."
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="PATH", help="a run folder (or, with --merge / --read, UCIS XML files)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--merge", action="store_true", help="sum the UCIS XML files given into --out")
    mode.add_argument("--read", action="store_true", help="print the bins and hits of the UCIS XML files given")
    parser.add_argument("--out", metavar="FILE", help=f"the file to write (default RUN_DIR/{UCIS_FILE})")
    args = parser.parse_args(argv)
    try:
        if not args.inputs:
            raise UsageError("nothing given: a run folder, or UCIS files with --merge / --read")
        if args.read:
            for path in args.inputs:
                for name, n in read_ucis(path).items():
                    print(f"{path}\t{name}\t{n}")
        elif args.merge:
            if not args.out:
                raise UsageError("--merge needs --out FILE")
            hits = merge_ucis(args.inputs, args.out)
            print(
                f"wrote {args.out}: {sum(1 for n in hits.values() if n)}/{len(hits)} bins hit "
                f"over {len(args.inputs)} files"
            )
        else:
            if len(args.inputs) != 1:
                raise UsageError("one run folder at a time (or --merge)")
            print(f"wrote {export_run(args.inputs[0], args.out)}")
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.coverage.ucis", exc)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
