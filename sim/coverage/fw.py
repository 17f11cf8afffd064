"""Code coverage of the firmware: coverage.py with branches over ``firmware/`` during the runs,
summarised per seed function.

    python -m sim.coverage.fw RUN_DIR_OR_DAT... [--out DIR] [--seeds DIR]

Measuring (``lwkt-soc run --fw-coverage``, ``RunConfig.fw_coverage``; ``sim/tb/fw_coverage.py``): the
simulator side (``sim/tb/run_program.py``) calls ``start_from_environment`` when it is imported, before it
imports the firmware, so the firmware's module-level lines count too; coverage.py's tracer is
per thread, and cocotb runs every coroutine in the simulator's main thread, the thread that
imports the test module, so one tracer sees all the firmware. ``FirmwareCoverage.save``
writes ``fw_coverage.dat`` in the run folder however the run ends (its ``finally``, and
``atexit`` as a fallback).

Summarising (:func:`merge_fw_coverage`): the ``fw_coverage.dat`` of many runs are combined
(coverage.py's union: lines and arcs seen by any run), coverage.py writes its own HTML
(``html/``), Cobertura XML (``coverage.xml``) and LCOV (``fw_coverage.lcov``), and the lines
and arcs are attributed to the innermost ``def`` that holds them (``ast``). The seed functions
are the functions that ``lwkt_thread.c`` (``../shared/seeds``, v1.12 UP and v1.18 SMP) defines,
and those it calls but DragonFly defines elsewhere (``crit_exit``, ``splz``, ``get_mplock``, ...);
the firmware's Python functions carry the same names. ``fw_coverage.json`` and
``fw_coverage.md`` give each seed function's statements and branches, then a total for the rest.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

from sim.contract.errors import EXIT_OK, EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from sim.contract.outdir import FW_COVERAGE_DATA as DATA_FILE
from sim.contract.paths import DEFAULT_SEEDS, FIRMWARE_DIR
from sim.reports.tables import markdown_table

__all__ = [
    "SEED_LIST",
    "merge_fw_coverage",
    "render_markdown",
    "seed_functions",
    "function_spans",
    "DATA_FILE",
    "FIRMWARE_DIR",
    "DEFAULT_SEEDS",
    "main",
]


# --- the seed's function names ---------------------------------------------------------------------

#: A C function definition: its name at the start of a line, then "(", and no ";" at the end
#: (a prototype or a macro call such as SYSCTL_INT(...); ends with one).
_C_DEFINITION = re.compile(r"^([a-z_][A-Za-z0-9_]*)\s*\((?!.*;\s*$)")
_C_CALL = re.compile(r"\b([a-z_][A-Za-z0-9_]*)\s*\(")
_C_KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "defined"}
#: Seed functions the firmware names otherwise: seed name -> firmware function name.
ALIASES = {"_lwkt_wantresched": "_wantresched"}


def _seed_lines(text: str):
    """The seed's code lines: the page's line numbers and non-breaking spaces taken off."""
    for raw in text.splitlines():
        match = re.match(r"^(\d+) ?(.*)$", raw.replace("\u00a0", " "))
        if match:
            yield match.group(2)


#: The seeds' function names as read from the seed sources (regenerate with --write-seed-list), for a
#: checkout without the seeds beside it.
SEED_LIST = Path(__file__).with_name("seed_functions.json")


def seed_functions(seeds_dir: Path | None = DEFAULT_SEEDS) -> dict[str, dict]:
    """name -> {"seeds": [seed file tags defining it], "kind": "defined"}, and for the functions the
    seeds call without defining them, {"seeds": [...calling it], "kind": "called"}. A seed function
    the firmware names otherwise (:data:`ALIASES`) is there under both names. Without the seed
    sources (``seeds_dir`` None or missing) the list saved in ``sim/coverage/seed_functions.json``."""
    if seeds_dir is None or not Path(seeds_dir).is_dir():
        return json.loads(SEED_LIST.read_text())
    seeds_dir = Path(seeds_dir)
    files = sorted(seeds_dir.glob("*.txt")) + sorted(seeds_dir.glob("*.c"))
    if not files:
        raise UsageError(f"--seeds {seeds_dir}: no seed sources (*.txt, *.c) there")
    defined: dict[str, list[str]] = {}
    called: dict[str, list[str]] = {}
    for path in files:
        tag = re.search(r"v\d+\.\d+", path.name)
        tag = tag.group(0) if tag else path.stem
        in_comment = False
        for line in _seed_lines(path.read_text(errors="replace")):
            match = _C_DEFINITION.match(line)
            if match and tag not in defined.setdefault(match.group(1), []):
                defined[match.group(1)].append(tag)
                continue
            code, in_comment = _strip_comments(line, in_comment)
            if code.lstrip().startswith("#"):
                continue
            for name in _C_CALL.findall(code):
                if name not in _C_KEYWORDS and tag not in called.setdefault(name, []):
                    called[name].append(tag)
    result = {name: {"seeds": tags, "kind": "defined"} for name, tags in defined.items()}
    result.update({name: {"seeds": tags, "kind": "called"} for name, tags in called.items() if name not in defined})
    for seed_name, python_name in ALIASES.items():
        if seed_name in result:
            result[python_name] = dict(result[seed_name], seed_name=seed_name)
    return result


def _strip_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    out = []
    i = 0
    while i < len(line):
        if in_comment:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            in_comment, i = False, end + 2
        else:
            start = line.find("/*", i)
            if start < 0:
                out.append(line[i:])
                break
            out.append(line[i:start])
            in_comment, i = True, start + 2
    return "".join(out), in_comment


# --- the firmware's functions ----------------------------------------------------------------------


def function_spans(path: Path) -> tuple[list[dict], dict[int, str]]:
    """The functions of one source file, and each line's innermost function (qualname; lines outside
    every function are absent). A function's lines are its body: the ``def`` line runs when the
    enclosing scope does."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    functions: list[dict] = []
    owner: dict[int, str] = {}

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = prefix + child.name
                first = child.body[0].lineno
                functions.append(
                    {
                        "name": child.name,
                        "qualname": qualname,
                        "line": child.lineno,
                        "first": first,
                        "last": child.end_lineno,
                    }
                )
                for line in range(first, child.end_lineno + 1):
                    owner[line] = qualname  # nested defs come later and take their own lines back
                visit(child, qualname + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return functions, owner


# --- combining and summarising ---------------------------------------------------------------------


def _data_files(inputs) -> list[Path]:
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            path = path / DATA_FILE
            if not path.is_file():
                raise UsageError(f"{item} holds no {DATA_FILE} (was it run with --fw-coverage?)")
        elif not path.is_file():
            raise UsageError(f"{item}: no such run folder or coverage data file")
        files.append(path.resolve())
    if not files:
        raise UsageError("no run folders or coverage data files given")
    return files


def _coverage(data_file: Path):
    import coverage

    cov = coverage.Coverage(data_file=str(data_file), branch=True, source=[str(FIRMWARE_DIR)], config_file=False)
    # Runs made in another checkout: their firmware/ is this one's.
    cov.set_option("paths", {"firmware": [str(FIRMWARE_DIR), "*/firmware"]})
    # Imports for type checkers only never run (firmware/core.py, the core protocol, is imported only there).
    cov.set_option("report:exclude_also", [r"if TYPE_CHECKING:"])
    return cov


def merge_fw_coverage(inputs, out_dir: Path, *, seeds_dir: Path | None = DEFAULT_SEEDS, html: bool = True) -> dict:
    """Combine the ``fw_coverage.dat`` of run folders (or the data files themselves) into
    ``out_dir``, write coverage.py's reports and the per-function summary; returns the summary.

    Raises UsageError for a missing or damaged input, EnvironmentProblem when ``out_dir`` cannot
    be written."""
    try:
        import coverage
    except ImportError:
        raise EnvironmentProblem(
            "firmware coverage is measured with coverage.py, which is not installed: pip install 'lwkt-soc[coverage]'"
        ) from None

    files = _data_files(inputs)
    out_dir = Path(out_dir).resolve()
    combined = out_dir / DATA_FILE
    if combined in files:
        raise UsageError(f"--out {out_dir}: is one of the inputs; choose another folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"--out {out_dir}: cannot create it ({exc.strerror or exc})") from None
    cov = _coverage(combined)
    cov.erase()
    for path in files:  # one by one, so that a damaged file is named
        try:
            data = coverage.CoverageData(basename=str(path))
            data.read()
            if data.measured_files() and not data.has_arcs():
                raise UsageError(f"{path}: statement-only coverage data; the runs measure branches")
        except coverage.CoverageException as exc:
            raise UsageError(f"{path} is not coverage.py data ({exc})") from None
    try:
        cov.combine([str(f) for f in files], strict=True, keep=True)  # keep: never delete a run's data
        cov.save()
        cov.load()
        report_file = out_dir / "fw_coverage.lines.json"
        cov.json_report(outfile=str(report_file), ignore_errors=True)
        if html:
            cov.html_report(directory=str(out_dir / "html"), title="lwkt-soc firmware coverage", ignore_errors=True)
        cov.xml_report(outfile=str(out_dir / "coverage.xml"), ignore_errors=True)
        cov.lcov_report(outfile=str(out_dir / "fw_coverage.lcov"), ignore_errors=True)
    except coverage.CoverageException as exc:
        raise UsageError(f"the coverage data cannot be combined or reported ({exc})") from None
    except OSError as exc:
        raise EnvironmentProblem(f"--out {out_dir}: cannot write the reports ({exc.strerror or exc})") from None
    lines = json.loads(report_file.read_text())
    seeds = seed_functions(seeds_dir)
    summary = summarise(lines, seeds, runs=[str(f) for f in files])
    summary["seeds_dir"] = str(seeds_dir) if seeds_dir is not None and Path(seeds_dir).is_dir() else str(SEED_LIST)
    from sim.contract.outdir import atomic_write

    atomic_write(out_dir / "fw_coverage.json", json.dumps(summary, indent=2) + "\n")
    atomic_write(out_dir / "fw_coverage.md", render_markdown(summary))
    return summary


def _stats(statements: set[int], run: set[int], branches: set[tuple], taken: set[tuple]) -> dict:
    return {
        "statements": len(statements),
        "statements_run": len(run),
        "statements_pct": _pct(len(run), len(statements)),
        "branches": len(branches),
        "branches_taken": len(taken),
        "branches_pct": _pct(len(taken), len(branches)),
    }


def _pct(n: int, total: int) -> float | None:
    return round(100.0 * n / total, 1) if total else None


def _ranges(lines) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    out, lines = [], sorted(lines)
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[j] + 1:
            j += 1
        out.append(str(lines[i]) if i == j else f"{lines[i]}-{lines[j]}")
        i = j + 1
    return ", ".join(out)


def summarise(report: dict, seeds: dict[str, dict] | None, runs: list[str] = ()) -> dict:
    """Per function of ``firmware/*.py``, from coverage.py's JSON report (executed and missing lines
    and branches) and the seed functions (None: no seeds available)."""
    measured = {Path(name).resolve(): entry for name, entry in report.get("files", {}).items()}
    functions = []
    module_level = {"statements": set(), "run": set(), "branches": set(), "taken": set()}
    for path in sorted(FIRMWARE_DIR.glob("*.py")):
        entry = measured.get(path.resolve())
        module = f"firmware/{path.name}"
        if entry is None:  # a file no run imported (coverage.py lists such files, with none run)
            continue
        executed, missing = set(entry["executed_lines"]), set(entry["missing_lines"])
        taken = {tuple(a) for a in entry.get("executed_branches", [])}
        not_taken = {tuple(a) for a in entry.get("missing_branches", [])}
        spans, owner = function_spans(path)
        for fn in spans:
            q = fn["qualname"]
            stmts = {line for line in executed | missing if owner.get(line) == q}
            if not stmts:
                continue  # nothing that can run (a protocol stub: a docstring alone)
            run = stmts & executed
            branches = {a for a in taken | not_taken if owner.get(a[0]) == q}
            hit = branches & taken
            seed = (seeds or {}).get(fn["name"])
            functions.append(
                {
                    "module": module,
                    "qualname": q,
                    "name": fn["name"],
                    "line": fn["line"],
                    **_stats(stmts, run, branches, hit),
                    "missed_lines": _ranges(stmts - run),
                    "missed_branches": [f"{a}->{b if b > 0 else 'exit'}" for a, b in sorted(branches - hit)],
                    "seed": seed["kind"] if seed else None,
                    "seed_files": seed["seeds"] if seed else [],
                    "seed_name": seed.get("seed_name", fn["name"]) if seed else None,
                }
            )
        key = f"{module}:<module>"
        outside = {line for line in executed | missing if line not in owner}
        module_level["statements"] |= {(key, line) for line in outside}
        module_level["run"] |= {(key, line) for line in outside & executed}
        module_level["branches"] |= {(key, a) for a in taken | not_taken if a[0] not in owner}
        module_level["taken"] |= {(key, a) for a in taken if a[0] not in owner}
    totals = report.get("totals", {})
    rest = [f for f in functions if not f["seed"]]
    summary = {
        "runs": list(runs),
        "functions": functions,
        "seed_functions_missing": sorted(
            name
            for name, s in (seeds or {}).items()
            if s["kind"] == "defined" and not any(f["name"] in (name, ALIASES.get(name)) for f in functions)
        ),
        "seeds_available": seeds is not None,
        "seed_total": _sum([f for f in functions if f["seed"] == "defined"]),
        "seed_called_total": _sum([f for f in functions if f["seed"] == "called"]),
        "rest_total": _sum(rest),
        "module_level": _stats(
            module_level["statements"], module_level["run"], module_level["branches"], module_level["taken"]
        ),
        "firmware_total": {
            "statements": totals.get("num_statements", 0),
            "statements_run": totals.get("covered_lines", 0),
            "statements_pct": _pct(totals.get("covered_lines", 0), totals.get("num_statements", 0)),
            "branches": totals.get("num_branches", 0),
            "branches_taken": totals.get("covered_branches", 0),
            "branches_pct": _pct(totals.get("covered_branches", 0), totals.get("num_branches", 0)),
        },
        "coverage_py": report.get("meta", {}).get("version"),
    }
    return summary


def _sum(functions: list[dict]) -> dict:
    s = sum(f["statements"] for f in functions)
    r = sum(f["statements_run"] for f in functions)
    b = sum(f["branches"] for f in functions)
    t = sum(f["branches_taken"] for f in functions)
    return {
        "functions": len(functions),
        "functions_run": sum(1 for f in functions if f["statements_run"]),
        "statements": s,
        "statements_run": r,
        "statements_pct": _pct(r, s),
        "branches": b,
        "branches_taken": t,
        "branches_pct": _pct(t, b),
    }


def _cell(n: int, total: int, pct: float | None) -> str:
    return f"{n}/{total} ({pct:.0f} %)" if pct is not None else "-"


def render_markdown(summary: dict) -> str:
    """The per-seed-function table, then the totals, as Markdown."""
    lines = [
        "# Firmware code coverage",
        "",
        f"coverage.py {summary.get('coverage_py') or ''} with branches over `firmware/`, "
        f"{len(summary['runs'])} run(s) combined.",
        "",
    ]
    fw = summary["firmware_total"]
    lines += [
        f"All of `firmware/`: statements {_cell(fw['statements_run'], fw['statements'], fw['statements_pct'])}, "
        f"branches {_cell(fw['branches_taken'], fw['branches'], fw['branches_pct'])}.",
        "",
    ]
    header = ["function", "module", "seeds", "statements", "branches", "missed lines"]

    def row(f):
        name = (
            f"`{f['qualname']}`"
            + (f" (seed `{f['seed_name']}`)" if f.get("seed_name") not in (None, f["name"]) else "")
            + ("" if f["statements_run"] else " **not run**")
        )
        return [
            name,
            f["module"],
            ", ".join(f["seed_files"]),
            _cell(f["statements_run"], f["statements"], f["statements_pct"]),
            _cell(f["branches_taken"], f["branches"], f["branches_pct"]),
            f["missed_lines"],
        ]

    if not summary["seeds_available"]:
        lines += ["(no seed sources found: every function is in the rest)", ""]
    for kind, title in (
        ("defined", "Seed functions (defined in lwkt_thread.c)"),
        ("called", "Functions the seeds call (defined elsewhere in DragonFly)"),
    ):
        chosen = [f for f in summary["functions"] if f["seed"] == kind]
        if not chosen:
            continue
        total = summary["seed_total" if kind == "defined" else "seed_called_total"]
        lines += [
            f"## {title}",
            "",
            f"{total['functions_run']}/{total['functions']} run; statements "
            f"{_cell(total['statements_run'], total['statements'], total['statements_pct'])}, branches "
            f"{_cell(total['branches_taken'], total['branches'], total['branches_pct'])}.",
            "",
        ]
        chosen.sort(key=lambda f: (f["seed_name"], f["module"]))
        lines += markdown_table(header, [row(f) for f in chosen]) + [""]
    if summary["seed_functions_missing"]:
        lines += [
            "Seed functions with no firmware function of that name: "
            + ", ".join(f"`{n}`" for n in summary["seed_functions_missing"])
            + ".",
            "",
        ]
    rest, mod = summary["rest_total"], summary["module_level"]
    lines += [
        "## The rest of `firmware/`",
        "",
        f"{rest['functions_run']}/{rest['functions']} other functions run; statements "
        f"{_cell(rest['statements_run'], rest['statements'], rest['statements_pct'])}, branches "
        f"{_cell(rest['branches_taken'], rest['branches'], rest['branches_pct'])}. Module and class level "
        f"(imports, definitions): statements {_cell(mod['statements_run'], mod['statements'], mod['statements_pct'])}.",
        "",
    ]
    never = [f for f in summary["functions"] if not f["seed"] and not f["statements_run"]]
    if never:
        lines += [
            "Other functions no run entered: " + ", ".join(f"`{f['module'][9:]}:{f['qualname']}`" for f in never) + ".",
            "",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.coverage.fw",
        description="Combine the firmware code coverage (fw_coverage.dat) of runs and summarise it per seed function.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="RUN_DIR",
        help="run folders made with --fw-coverage (or their fw_coverage.dat files)",
    )
    parser.add_argument(
        "--out",
        default="runs/fw-coverage",
        metavar="DIR",
        help="where the combined data, fw_coverage.md/.json, html/, coverage.xml and "
        "fw_coverage.lcov go (default runs/fw-coverage)",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        metavar="DIR",
        help=f"the seed C sources (default {DEFAULT_SEEDS}; without them the names saved in {SEED_LIST.name})",
    )
    parser.add_argument(
        "--write-seed-list",
        action="store_true",
        help=f"read the seed sources and save their function names in {SEED_LIST.name}",
    )
    args = parser.parse_args(argv)
    if args.write_seed_list:
        try:
            names = seed_functions(Path(args.seeds or DEFAULT_SEEDS))
        except UsageError as exc:
            print(f"sim.coverage.fw: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        SEED_LIST.write_text(json.dumps(names, indent=1, sort_keys=True) + "\n")
        print(f"wrote {SEED_LIST} ({len(names)} names)")
        return EXIT_OK
    try:
        if args.seeds is not None and not Path(args.seeds).is_dir():
            raise UsageError(f"--seeds {args.seeds}: no such folder")
        summary = merge_fw_coverage(args.inputs, Path(args.out), seeds_dir=Path(args.seeds or DEFAULT_SEEDS))
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.coverage.fw", exc)
    sys.stdout.write(render_markdown(summary))
    print(
        f"\nwrote {Path(args.out) / 'fw_coverage.md'}, fw_coverage.json, html/index.html, coverage.xml, "
        f"fw_coverage.lcov"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
