"""The ``lwkt-soc`` command.

Exit codes (``sim/contract/errors.py``): 0 every check held; 1 a kernel check failed or the
firmware panicked; 2 usage error; 3 environment error; 130/143 interrupted.
No input ends in a traceback: each error is one line naming the input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hdl.config import TOPLEVEL, ConfigError, SocConfig, MAX_CPUS
from sim.contract.config import DEFAULT_SIM, SIMULATORS
from sim.contract.errors import (
    EXIT_CODES_HELP,
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_USAGE,
    EnvironmentProblem,
    UsageError,
    os_error_text,
)

__all__ = ["main"]


def _add_config_options(parser: argparse.ArgumentParser, default_cpus: int = SocConfig.ncpu) -> None:
    parser.add_argument(
        "--cpus",
        type=int,
        default=default_cpus,
        metavar="N",
        help=f"number of CPUs, 1..{MAX_CPUS} (default {default_cpus})",
    )
    parser.add_argument(
        "--fifo-depth",
        type=int,
        default=SocConfig.fifo_depth,
        metavar="D",
        help=f"IPI FIFO depth, a power of two in 2..1024 (default {SocConfig.fifo_depth})",
    )
    parser.add_argument(
        "--ram-words",
        type=int,
        default=SocConfig.ram_words,
        metavar="W",
        help=f"shared RAM size in words, a power of two (default {SocConfig.ram_words})",
    )
    parser.add_argument(
        "--ext-lines",
        type=int,
        default=SocConfig.ext_lines,
        metavar="E",
        help=f"external interrupt lines, 0..29 (default {SocConfig.ext_lines})",
    )


def _config(args) -> SocConfig:
    return SocConfig(ncpu=args.cpus, fifo_depth=args.fifo_depth, ram_words=args.ram_words, ext_lines=args.ext_lines)


def _cmd_verilog(args) -> int:
    from hdl.verilog import soc_verilog

    text = soc_verilog(_config(args))
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        _write_file(args.out, text)
        print(f"wrote {args.out} ({len(text):,} bytes, top module {TOPLEVEL}, {args.cpus} CPUs)", file=sys.stderr)
    return EXIT_OK


def _write_file(path: str, text: str) -> None:
    """Write a command's --out FILE (its folder made if missing); a path that cannot be written is an
    environment error naming it."""
    from sim.contract.outdir import atomic_write

    out = Path(path)
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder, not a file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, text)
    except OSError as exc:
        raise EnvironmentProblem(f"--out {out}: cannot write it ({os_error_text(exc)})") from None


def _cmd_regs(args) -> int:
    if args.c_header:
        from sim.reports.cheader import render_c_header as render
    else:
        from sim.reports.regdoc import render_markdown as render

    text = render()
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        _write_file(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    return EXIT_OK


def _cmd_smoke(args) -> int:
    from sim.host.smoke import run_smoke

    return EXIT_OK if run_smoke(_config(args), args.sim, Path(args.out), waves=args.waves) else EXIT_FAILED


def _cmd_run(args) -> int:
    from sim.contract.run_options import config_from_arguments
    from sim.host.run import run_scenario

    return run_scenario(config_from_arguments(args))


def _cmd_ram_layout(args) -> int:
    from sim.reports.ramdoc import render_layout

    SocConfig(ncpu=args.cpus)
    text = render_layout(args.cpus)
    if args.out:
        _write_file(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_report(args) -> int:
    from sim.reports.report import load_report, render_markdown, render_text
    from sim.contract.outdir import atomic_write

    run_dir = Path(args.dir)
    report = load_report(run_dir)
    try:
        text, markdown = render_text(report), render_markdown(report)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UsageError(
            f"{run_dir / 'report.json'} is not a report this version can render ({type(exc).__name__}: {exc})"
        ) from None
    if args.write:
        atomic_write(run_dir / "report.txt", text)
        atomic_write(run_dir / "report.md", markdown)
    sys.stdout.write(markdown if args.markdown else text)
    return EXIT_OK if report["ok"] else EXIT_FAILED


def _cmd_check(args) -> int:
    from sim.reports.check import CheckError, check_run

    try:
        ok = check_run(Path(args.dir))
    except CheckError as exc:
        print(f"lwkt-soc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if ok else EXIT_FAILED


def _cmd_waves(args) -> int:

    import subprocess
    from sim.reports.gtkwave import open_command, viewer_available, write_gtkwave_files

    run_dir = Path(args.dir)
    if not any((run_dir / f"waves.{ext}").exists() for ext in ("fst", "vcd")):
        print(f"lwkt-soc: error: {run_dir} holds no waveform; run with --waves", file=sys.stderr)
        return EXIT_USAGE
    if not (run_dir / "waves.gtkw").exists():
        try:
            write_gtkwave_files(run_dir)
        except Exception as exc:  # a damaged or foreign file: say which, no traceback
            raise UsageError(
                f"{run_dir}: the waveform or trace cannot be read ({type(exc).__name__}: {exc}); "
                f"run the scenario again with --waves"
            ) from None
    command = open_command(run_dir)
    if viewer_available() and not args.print_only:
        subprocess.Popen(command)
        print(" ".join(command))
    else:
        print("no waveform viewer found (apt-get install gtkwave); open the run with:")
        print("  " + " ".join(command))
    return EXIT_OK


def _cmd_list(args) -> int:
    from sim.contract.catalogue import SCENARIOS

    width = max(map(len, SCENARIOS))
    for name in sorted(SCENARIOS):
        cls = SCENARIOS[name]
        print(f"{name:{width}}  [{cls.mode}, {cls.cpus} CPU]  {cls.description}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lwkt-soc",
        description="A multicore SoC in Amaranth, co-simulated under cocotb on Icarus Verilog and Verilator.",
        epilog=EXIT_CODES_HELP,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("verilog", help="write the SoC's Verilog")
    _add_config_options(p)
    p.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    p.set_defaults(func=_cmd_verilog)

    p = sub.add_parser("regs", help="write the register reference (Markdown) or a C header from the memory map")
    p.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    p.add_argument(
        "--c-header",
        action="store_true",
        help="write the memory map as a C header (lwkt_soc.h: every block, register and field) instead",
    )
    p.set_defaults(func=_cmd_regs)

    p = sub.add_parser("ram-layout", help="write the shared-RAM layout (Markdown) of the SMP kernel")
    p.add_argument(
        "--cpus", type=int, default=SocConfig.ncpu, metavar="N", help=f"CPU count (default {SocConfig.ncpu})"
    )
    p.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    p.set_defaults(func=_cmd_ram_layout)

    from sim.contract.catalogue import ALL_FAULTS, FAULTS, SCENARIOS
    from sim.contract.run_options import add_run_arguments

    p = sub.add_parser(
        "run",
        help="run a named scenario of the kernel on the SoC",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="scenarios:\n"
        + "\n".join(
            f"  {name:16} {cls.description[:90]}"
            for name, cls in sorted(SCENARIOS.items())
            if not name.startswith("test-")
        )
        + "\n\nfaults (--faults): "
        + ", ".join(FAULTS)
        + f", or {ALL_FAULTS}\n\n"
        + EXIT_CODES_HELP,
    )
    add_run_arguments(p)
    p.set_defaults(func=_cmd_run)

    from sim.campaigns import command as regress

    from sim.campaigns import results

    p = sub.add_parser(
        "regress",
        help="run a regression campaign on Dask and record it in the results database",
        description=regress.__doc__.split("\n\n")[0].replace("``", ""),
        epilog=EXIT_CODES_HELP,
    )
    regress.add_arguments(p)
    p.set_defaults(func=regress.command)

    p = sub.add_parser(
        "results",
        help="query the results database of regression campaigns",
        description=results.__doc__.split("\n\n")[0].replace("``", ""),
        epilog=EXIT_CODES_HELP,
    )
    results.add_arguments(p)
    p.set_defaults(func=results.command)

    from formal import prove

    p = sub.add_parser(
        "prove",
        help="formal proofs of the hardware blocks (BMC, then k-induction)",
        description=prove.__doc__.split("\n\n")[0],
        epilog=prove.__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prove.add_arguments(p)
    p.set_defaults(func=prove.command, prog_name="lwkt-soc prove")

    p = sub.add_parser("report", help="render the report of a finished run again")
    p.add_argument("dir", metavar="DIR", help="the --out folder of a run")
    p.add_argument("--markdown", action="store_true", help="print Markdown instead of text")
    p.add_argument("--write", action="store_true", help="also rewrite report.txt and report.md in DIR")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "check", help="check every scheduling decision of a run's trace against the scoreboard (the seeds' rules)"
    )
    p.add_argument("dir", metavar="DIR", help="the --out folder of a run")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("waves", help="open a run's waveform in GTKWave or Surfer (or print the command)")
    p.add_argument("dir", metavar="DIR", help="the --out folder of a run made with --waves")
    p.add_argument("--print-only", action="store_true", help="only print the command")
    p.set_defaults(func=_cmd_waves)

    p = sub.add_parser("list", help="list the scenarios")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("smoke", help="bring the SoC up on a simulator and exercise every block")
    _add_config_options(p)
    p.add_argument(
        "--sim", choices=SIMULATORS, default=DEFAULT_SIM, help=f"simulator (default {DEFAULT_SIM}, from PyPI)"
    )
    p.add_argument("--waves", action="store_true", help="write a waveform (FST, or VCD without liblz4)")
    p.add_argument("--out", metavar="DIR", default="runs/smoke", help="output folder (default runs/smoke)")
    p.set_defaults(func=_cmd_smoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from sim.host.toolchain import SimulatorMissing

    try:
        return args.func(args)
    except (ConfigError, UsageError) as exc:
        print(f"lwkt-soc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EnvironmentProblem, SimulatorMissing) as exc:
        print(f"lwkt-soc: error: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except OSError as exc:  # a path the machine refuses: name it, no traceback
        where = f" {exc.filename}" if exc.filename else ""
        print(f"lwkt-soc: error:{where}: {os_error_text(exc)}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        print("lwkt-soc: interrupted", file=sys.stderr)
        return EXIT_SIGINT


if __name__ == "__main__":
    sys.exit(main())
