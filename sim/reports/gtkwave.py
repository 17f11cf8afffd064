"""A GTKWave save file and a thread-name translate file for a run's waveform.

:func:`write_gtkwave_files` writes, next to ``waves.fst`` (or ``waves.vcd``):

- ``waves.gtkw``: opens the waveform with the cycle counter, one group per core
  (its debug registers with ``curthread`` shown as thread names, its interrupt
  controller and timer, its bus port), then groups for the shared blocks (MP
  lock, the busiest IPI FIFOs, the RAM arbiter and write port); named markers at
  the panic and at the first failed check (at the end of the run), the primary
  marker at the first of them; zoomed to show the whole run.
- ``threads.txt``: GTKWave's "Translate Filter File" format, one line per thread
  id as ``debug.curthread`` shows it in hexadecimal, then the thread's name
  (several names joined by ``/`` when a recycled thread structure ran several).

Signal names are read from the waveform itself (with pywellen), so they are the
exact names GTKWave knows, whatever scope the simulator put them under; a name
the waveform does not have is left out rather than listed. Every name shown is a
probe hdl/probe_map.py declares: the groups name them by template (``cpu{c}.debug.pri``),
and filling one in refuses an undeclared name. In a save file a vector is named
``scope.signal[msb:lsb]`` as GTKWave names it. Flag values (``@...`` lines) are GTKWave's
``TR_*`` trace flags. pyvcd's ``vcd.gtkw`` writes the file.
"""

from __future__ import annotations

import io
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vcd.gtkw import GTKWFlag, GTKWSave

from hdl.config import TOPLEVEL
from hdl import probe_map
from sim.contract.outdir import atomic_write
from sim.contract.trace import CLOCK_PERIOD_NS
from sim.reports.run_files import RunFiles

__all__ = [
    "write_gtkwave_files",
    "open_command",
    "viewer_available",
    "SAVE_FILE",
    "TRANSLATE_FILE",
    "read_thread_names",
]

SAVE_FILE = "waves.gtkw"
TRANSLATE_FILE = "threads.txt"
_WAVEFORMS = ("waves.fst", "waves.vcd")

# GTKWave's trace flags as pyvcd names them (gtkwave src/analyzer.h's TR_*), for readers of the file.
TR_HEX = GTKWFlag.hex.value
TR_DEC = GTKWFlag.dec.value
TR_BIN = GTKWFlag.bin.value
TR_FTRANSLATED = GTKWFlag.ftranslated.value
TR_GRP_BEGIN = GTKWFlag.grp_begin.value
TR_GRP_END = GTKWFlag.grp_end.value

_UNITS = {"fs": 1e-15, "ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_MAX_IPI_CPUS = 4  # CPUs whose IPI ports are shown: the busiest ones
_WINDOW = (1600, 900)  # GTKWave window size the zoom is computed for
_SST_WIDTH = 220  # signal search tree pane
_SIGNALS_WIDTH = 330  # signal names pane
_PIXELS_PER_FRAME = 200  # GTKWave's, for its zoom
_CURTHREAD = "cpu{c}.debug.curthread"  # shown as thread names; it also finds the SoC's scope
_IPI_PENDING = "ipi.pending_{c}"  # a CPU's incoming FIFOs that hold entries

# What the save file shows, as (probe template, format): the cycle counter, a group per core, the MP
# lock, a group per busy CPU's IPI ports (a CPU's ports show the FIFO they address), the RAM.
TOP_SIGNALS = (("cycle", "dec"),)
CORE_SIGNALS = (
    (_CURTHREAD, "hex"),  # through the translate file: thread names
    ("cpu{c}.debug.pri", "dec"),
    ("cpu{c}.debug.critdepth", "dec"),
    ("cpu{c}.debug.event", "hex"),
    ("cpu{c}.intc.irq", "bin"),
    ("cpu{c}.intc.pending", "bin"),
    ("cpu{c}.timer.pending", "bin"),
    *(
        (f"cpu{{c}}__{port}", fmt)
        for port, fmt in (
            ("cyc", "bin"),
            ("stb", "bin"),
            ("we", "bin"),
            ("adr", "hex"),
            ("dat_w", "hex"),
            ("dat_r", "hex"),
            ("ack", "bin"),
            ("err", "bin"),
            ("irq", "bin"),
        )
    ),
)
MPLOCK_SIGNALS = (("mplock.held", "bin"), ("mplock.owner", "dec"))
IPI_SIGNALS = (
    (_IPI_PENDING, "bin"),  # bit s: FIFO[s][c] holds an entry
    *((f"ipi.{side}{{c}}_{name}", "dec") for side in ("tx", "rx") for name in ("slot", "windex", "rindex")),
    ("ipi.wof_{c}", "bin"),
    ("ipi.roe_{c}", "bin"),
)
RAM_SIGNALS = (
    ("ram_arbiter.requests", "bin"),
    ("ram_arbiter.grant", "bin"),
    ("ram.write_port__en", "bin"),
    ("ram.write_port__addr", "hex"),
    ("ram.write_port__data", "hex"),
)


@dataclass
class _Var:
    name: str  # full name as pywellen gives it (no bit range)
    width: int
    raw: object = None  # the pywellen variable, for its value changes

    @property
    def gtkwave_name(self) -> str:
        """The name GTKWave gives it: vectors carry their bit range."""
        return f"{self.name}[{self.width - 1}:0]" if self.width > 1 else self.name

    def changes(self) -> list[tuple[int, int]]:
        return list(self.raw.tv) if self.raw is not None else []


@dataclass
class _Waveform:
    path: Path
    seconds_per_unit: float  # GTKWave's time unit: the timescale's unit (the factor is applied)
    factor: int  # the timescale's factor: GTKWave time = file time * factor
    vars: dict[str, _Var] = field(default_factory=dict)
    soc: str = f"{TOPLEVEL}."  # scope prefix of the SoC
    tops: tuple[str, ...] = ()  # other scopes the top-level ports may be under
    end: int = 0  # last time, in GTKWave's unit

    def find(self, relative: str) -> _Var | None:
        """The variable ``relative`` to the SoC scope; ports also under Verilator's ``$rootio``/``TOP``."""
        for prefix in (self.soc, *self.tops):
            var = self.vars.get(prefix + relative)
            if var is not None:
                return var
        return None

    def indices(self, template: str) -> list[int]:
        """The numbers the one placeholder of ``template`` takes in the waveform, sorted."""
        found = probe_map.pattern(template, self.soc)
        return sorted(int(m[1]) for m in map(found.match, self.vars) if m)

    def cpus(self) -> list[int]:
        return self.indices(_CURTHREAD)

    def ipi_cpus(self) -> list[int]:
        """CPUs with IPI ports in the waveform (hdl/ipi.py names each CPU's pending word)."""
        return self.indices(_IPI_PENDING)


def waveform_path(run_dir: Path) -> Path | None:
    """The run's waveform (``waves.fst`` or ``waves.vcd``), or None."""
    for name in _WAVEFORMS:
        if (Path(run_dir) / name).exists():
            return Path(run_dir) / name
    return None


def _read_waveform(path: Path) -> _Waveform:
    try:
        import pywellen
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "writing the GTKWave save file reads the waveform with pywellen: "
            "pip install pywellen (or the project's [test] extra)"
        ) from exc
    wave = pywellen.Waveform(str(path))
    raw = {var.full_name: var for var in wave.all_vars()}
    anchor = probe_map.path(_CURTHREAD, c=0)
    anchors = sorted(n[: -len(anchor)] for n in raw if n.endswith(anchor))
    if not anchors:
        raise ValueError(f"{path}: no {anchor}; not a waveform of {TOPLEVEL}")
    # Prefer the SoC's own scope (lwkt_soc.) over a wrapper's (TOP.lwkt_soc.).
    soc = min(anchors, key=lambda a: (not a.startswith(f"{TOPLEVEL}."), TOPLEVEL not in a, len(a)))
    result = _Waveform(
        path=path,
        seconds_per_unit=_UNITS[str(wave.timescale.unit)],
        factor=int(wave.timescale.factor),
        soc=soc,
        tops=tuple(p for p in ("$rootio.", "TOP.") if p != soc and any(n.startswith(p) for n in raw)),
    )
    result.vars = {name: _Var(name, int(var.bitwidth or 1), var) for name, var in raw.items()}
    clock = result.find(probe_map.path("clk"))  # it toggles to the end of the run
    changes = clock.changes() if clock else []
    result.end = changes[-1][0] * result.factor if changes else 0
    return result


def _time(cycle: int, wave: _Waveform) -> int:
    return round(cycle * CLOCK_PERIOD_NS * 1e-9 / wave.seconds_per_unit)


# -- thread names ------------------------------------------------------------------------------------


def read_thread_names(run_dir: Path) -> dict[int, list[str]]:
    """Thread id -> its names in order of appearance, from the run's ``trace.jsonl``.

    Names come from each record's ``tid``/``thread``, from ``thread_create``'s
    ``target``/``name`` and from ``switch``'s ``to``/``to_thread``.
    """
    names: dict[int, list[str]] = {}

    def add(tid, name):
        if tid is None or not isinstance(name, str) or name in ("", "-"):
            return
        known = names.setdefault(int(tid), [])
        if name not in known:
            known.append(name)

    for record in RunFiles(run_dir).trace(required=False):
        add(record.get("tid"), record.get("thread"))
        if record.get("event") == "thread_create":
            add(record.get("target"), record.get("name"))
        if "to" in record and "to_thread" in record:
            add(record.get("to"), record.get("to_thread"))
    return names


def _write_translate_file(path: Path, names: dict[int, list[str]], seen: set[int], width: int) -> None:
    digits = max(1, math.ceil(width / 4))
    lines = [
        "# GTKWave translate filter: debug.curthread (hexadecimal) -> thread name, from trace.jsonl",
        "# A thread structure taken again from the free cache lists each name it ran under.",
    ]
    for tid in sorted(set(names) | seen | {0}):
        label = "/".join(names.get(tid, [])) or ("(none)" if tid == 0 else f"td{tid}")
        lines.append(f"{tid:0{digits}x} {label}")
    atomic_write(path, "\n".join(lines) + "\n")


# -- the save file -----------------------------------------------------------------------------------


class _Signals:
    """The traces of the save file, through pyvcd's writer; only what the waveform has."""

    def __init__(self, wave: _Waveform, save: GTKWSave):
        self.wave, self.save = wave, save

    def present(self, specs) -> list[tuple[_Var, str, Path | None]]:
        """``(relative name, format[, translate file])`` specs the waveform has, as variables."""
        found = []
        for relative, fmt, *translate in specs:
            var = self.wave.find(relative)
            if var is not None:
                found.append((var, fmt, translate[0] if translate else None))
        return found

    def trace(self, var: _Var, fmt: str, translate: Path | None = None) -> None:
        """Show ``var`` in ``fmt`` (``hex``, ``dec``, ``bin``; one-bit signals in binary), through the
        translate filter file ``translate`` if given."""
        self.save.trace(
            var.gtkwave_name,
            datafmt=fmt if var.width > 1 else "bin",
            translate_filter_file=str(translate) if translate is not None else None,
        )

    def group(self, name: str, specs) -> None:
        """A named group of ``specs``; left out when the waveform has none of it."""
        found = self.present(specs)
        if found:
            with self.save.group(name):
                for var, fmt, translate in found:
                    self.trace(var, fmt, translate)


def _filled(specs, **indices) -> list[tuple]:
    """``(template, format[, translate file])`` specs with their templates filled: declared names."""
    return [(probe_map.path(template, **indices), *rest) for template, *rest in specs]


def _core_signals(cpu: int, translate: Path) -> list[tuple]:
    specs = [
        (template, fmt, translate) if template == _CURTHREAD else (template, fmt) for template, fmt in CORE_SIGNALS
    ]
    return _filled(specs, c=cpu)


def _busiest_ipi_cpus(wave: _Waveform) -> list[int]:
    """The CPUs whose incoming IPIs changed most often (at most ``_MAX_IPI_CPUS``), or the first two
    if none received one."""
    cpus = wave.ipi_cpus()

    def changes(cpu):
        return max(len(wave.find(probe_map.path(_IPI_PENDING, c=cpu)).changes()) - 1, 0)

    traffic = {cpu: changes(cpu) for cpu in cpus}
    busiest = sorted((c for c in cpus if traffic[c] > 0), key=lambda c: (-traffic[c], c))[:_MAX_IPI_CPUS]
    return sorted(busiest) if busiest else cpus[:2]


def _last_trace_cycle(run_dir: Path) -> int:
    records = RunFiles(run_dir).trace(required=False)
    return int(records[-1].get("cycle", 0)) if records else 0


def _markers(run_dir: Path, wave: _Waveform) -> tuple[int, list[tuple[int, str]]]:
    """The primary marker's time (-1: none) and the named markers (time, label), from counters.json.

    The panic has its cycle; a failed check has none, so its marker is at the end of the
    run: the end of the waveform, or the panic's marker when there is one (a panic ends the run).
    """
    counters = RunFiles(run_dir).counters(required=False)
    named: list[tuple[int, str]] = []
    panic = counters.get("panic")
    if panic:
        named.append(
            (
                _time(int(panic["cycle"]), wave),
                f"panic on cpu{panic.get('cpu')} in {panic.get('thread')}: {panic.get('message', '')}",
            )
        )
    failed = [check for check in counters.get("checks", []) if not check.get("ok", True)]
    if failed:
        label = f"failed check: {failed[0]['name']} (end of run)"
        if panic:  # a panic ends the run: one marker for both
            named[0] = (named[0][0], f"{named[0][1]}; {label}")
        else:
            named.append((wave.end or _time(_last_trace_cycle(run_dir), wave), label))
    primary = named[0][0] if named else -1
    return primary, [(t, " ".join(label.split())) for t, label in named]


def _ipi_signals(cpu: int) -> list[tuple]:
    return _filled(IPI_SIGNALS, c=cpu)


def _zoom(wave: _Waveform) -> float:
    """GTKWave's zoom that shows the whole run in the window.

    GTKWave shows ``2 ** -zoom`` time units per 200 pixels ("pixels per frame").
    """
    pixels = _WINDOW[0] - _SST_WIDTH - _SIGNALS_WIDTH - 90
    return -math.log2(max(wave.end, 1) * _PIXELS_PER_FRAME / pixels)


def _thread_ids(wave: _Waveform) -> tuple[set[int], int]:
    """Every value debug.curthread takes on any core, and its width."""
    seen: set[int] = set()
    width = 32
    for cpu in wave.cpus():
        var = wave.find(probe_map.path(_CURTHREAD, c=cpu))
        width = var.width
        seen.update(value for _, value in var.changes() if isinstance(value, int))
    return seen, width


def write_gtkwave_files(run_dir: Path) -> dict[str, Path]:
    """Write ``waves.gtkw`` and ``threads.txt`` next to the run's waveform.

    Returns ``{"gtkwave_save": DIR/waves.gtkw, "thread_names": DIR/threads.txt}``.
    Raises FileNotFoundError when ``run_dir`` holds no waveform.
    """
    run_dir = Path(run_dir).resolve()
    path = waveform_path(run_dir)
    if path is None:
        raise FileNotFoundError(f"{run_dir} holds no waveform (waves.fst or waves.vcd); run with --waves")
    wave = _read_waveform(path)
    save_path = run_dir / SAVE_FILE
    translate_path = run_dir / TRANSLATE_FILE

    seen, width = _thread_ids(wave)
    _write_translate_file(translate_path, read_thread_names(run_dir), seen, width)

    primary, named = _markers(run_dir, wave)
    text = io.StringIO()
    save = GTKWSave(text)
    save.comment(f"lwkt-soc run view (sim/reports/gtkwave.py): gtkwave {save_path}")
    save.dumpfile(str(path))
    save.savefile(str(save_path))
    save.timestart(0)
    save.size(*_WINDOW)
    save.pos(-1, -1)
    save.zoom_markers(_zoom(wave), primary, **{chr(ord("a") + i): t for i, (t, _) in enumerate(named)})
    # pyvcd has no directive for marker names and the search tree's size: the same line format.
    for i, (_, label) in enumerate(named):
        text.write(f"[markername] {chr(ord('A') + i)}{label}\n")
    scopes = wave.soc.split(".")[:-1]
    for i in range(len(scopes)):
        save.treeopen(".".join(scopes[: i + 1]))
    text.write(f"[sst_width] {_SST_WIDTH}\n")
    save.signals_width(_SIGNALS_WIDTH)
    save.sst_expanded(True)
    text.write("[sst_vpaned_height] 250\n")

    signals = _Signals(wave, save)
    for var, fmt, _ in signals.present(_filled(TOP_SIGNALS)):
        signals.trace(var, fmt)
    for cpu in wave.cpus():
        signals.group(f"cpu{cpu}", _core_signals(cpu, translate_path))
    signals.group("mplock", _filled(MPLOCK_SIGNALS))
    # The FIFOs live in memories (hdl/ipi.py): the busiest CPUs' ports.
    busiest = _busiest_ipi_cpus(wave)
    if any(signals.present(_ipi_signals(c)) for c in busiest):
        with save.group("ipi"):
            for c in busiest:
                signals.group(f"ipi_cpu{c}", _ipi_signals(c))
    signals.group("ram", _filled(RAM_SIGNALS))
    atomic_write(save_path, text.getvalue())
    return {"gtkwave_save": save_path, "thread_names": translate_path}


# -- opening it --------------------------------------------------------------------------------------


def viewer_available() -> str | None:
    """``"gtkwave"`` or ``"surfer"`` (in that order of preference) when installed, else None."""
    for viewer in ("gtkwave", "surfer"):
        if shutil.which(viewer):
            return viewer
    return None


def open_command(run_dir: Path) -> list[str]:
    """The command that opens the run: ``gtkwave DIR/waves.gtkw``, or ``surfer DIR/waves.fst``
    when only Surfer is installed (it does not read GTKWave save files). Without
    either viewer it is still the GTKWave command, to print."""
    run_dir = Path(run_dir).resolve()
    if viewer_available() == "surfer":
        wave = waveform_path(run_dir)
        return ["surfer", str(wave if wave is not None else run_dir / "waves.fst")]
    return ["gtkwave", str(run_dir / SAVE_FILE)]
