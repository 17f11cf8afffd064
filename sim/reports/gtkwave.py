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
the waveform does not have is left out rather than listed. In a save file a
vector is named ``scope.signal[msb:lsb]`` as GTKWave names it. Flag values
(``@...`` lines) are GTKWave's ``TR_*`` trace flags.
"""
from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from sim.contract.outdir import atomic_write
from sim.contract.trace import CLOCK_PERIOD_NS
from sim.reports.run_files import RunFiles

__all__ = ["write_gtkwave_files", "open_command", "viewer_available", "SAVE_FILE", "TRANSLATE_FILE",
           "read_thread_names"]

SAVE_FILE = "waves.gtkw"
TRANSLATE_FILE = "threads.txt"
_WAVEFORMS = ("waves.fst", "waves.vcd")

# GTKWave trace flags (gtkwave src/analyzer.h).
TR_HEX = 0x2
TR_DEC = 0x4
TR_BIN = 0x8
TR_RJUSTIFY = 0x20
TR_BLANK = 0x200
TR_FTRANSLATED = 0x2000
TR_GRP_BEGIN = 0x800000
TR_GRP_END = 0x1000000

HEX = TR_RJUSTIFY | TR_HEX
DEC = TR_RJUSTIFY | TR_DEC
BIN = TR_RJUSTIFY | TR_BIN

_UNITS = {"fs": 1e-15, "ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_MAX_IPI_CPUS = 4                    # CPUs whose IPI ports are shown: the busiest ones
_NAMED_MARKERS = 26                  # A..Z on the "*" line
_WINDOW = (1600, 900)                # GTKWave window size the zoom is computed for
_SST_WIDTH = 220                     # signal search tree pane
_SIGNALS_WIDTH = 330                 # signal names pane
_PIXELS_PER_FRAME = 200              # GTKWave's, for its zoom


@dataclass
class _Var:
    name: str                        # full name as pywellen gives it (no bit range)
    width: int
    raw: object = None               # the pywellen variable, for its value changes

    @property
    def gtkwave_name(self) -> str:
        """The name GTKWave gives it: vectors carry their bit range."""
        return f"{self.name}[{self.width - 1}:0]" if self.width > 1 else self.name

    def changes(self) -> list[tuple[int, int]]:
        return list(self.raw.tv) if self.raw is not None else []


@dataclass
class _Waveform:
    path: Path
    seconds_per_unit: float          # GTKWave's time unit: the timescale's unit (the factor is applied)
    factor: int                      # the timescale's factor: GTKWave time = file time * factor
    vars: dict[str, _Var] = field(default_factory=dict)
    soc: str = "lwkt_soc."           # scope prefix of the SoC
    tops: tuple[str, ...] = ()       # other scopes the top-level ports may be under
    end: int = 0                     # last time, in GTKWave's unit

    def find(self, relative: str) -> _Var | None:
        """The variable ``relative`` to the SoC scope; ports also under Verilator's ``$rootio``/``TOP``."""
        for prefix in (self.soc, *self.tops):
            var = self.vars.get(prefix + relative)
            if var is not None:
                return var
        return None

    def cpus(self) -> list[int]:
        pattern = re.compile(re.escape(self.soc) + r"cpu(\d+)\.debug\.curthread$")
        return sorted(int(m[1]) for m in map(pattern.match, self.vars) if m)

    def ipi_cpus(self) -> list[int]:
        """CPUs with IPI ports in the waveform (hdl/ipi.py names each CPU's pending word)."""
        pattern = re.compile(re.escape(self.soc) + r"ipi\.pending_(\d+)$")
        return sorted(int(m[1]) for m in map(pattern.match, self.vars) if m)


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
        raise ModuleNotFoundError("writing the GTKWave save file reads the waveform with pywellen: "
                                  "pip install pywellen (or the project's [test] extra)") from exc
    wave = pywellen.Waveform(str(path))
    raw = {var.full_name: var for var in wave.all_vars()}
    anchors = sorted(n[: -len("cpu0.debug.curthread")] for n in raw if n.endswith("cpu0.debug.curthread"))
    if not anchors:
        raise ValueError(f"{path}: no cpu0.debug.curthread; not a waveform of lwkt_soc")
    # Prefer the SoC's own scope (lwkt_soc.) over a wrapper's (TOP.lwkt_soc.).
    soc = min(anchors, key=lambda a: (not a.startswith("lwkt_soc."), "lwkt_soc" not in a, len(a)))
    result = _Waveform(path=path, seconds_per_unit=_UNITS[str(wave.timescale.unit)],
                       factor=int(wave.timescale.factor), soc=soc,
                       tops=tuple(p for p in ("$rootio.", "TOP.") if p != soc and any(n.startswith(p) for n in raw)))
    result.vars = {name: _Var(name, int(var.bitwidth or 1), var) for name, var in raw.items()}
    clock = result.find("clk")            # it toggles to the end of the run
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
    lines = ["# GTKWave translate filter: debug.curthread (hexadecimal) -> thread name, from trace.jsonl",
             "# A thread structure taken again from the free cache lists each name it ran under."]
    for tid in sorted(set(names) | seen | {0}):
        label = "/".join(names.get(tid, [])) or ("(none)" if tid == 0 else f"td{tid}")
        lines.append(f"{tid:0{digits}x} {label}")
    atomic_write(path, "\n".join(lines) + "\n")


# -- the save file -----------------------------------------------------------------------------------


class _SaveFile:
    def __init__(self, wave: _Waveform):
        self.wave = wave
        self.lines: list[str] = []
        self.signals: list[str] = []
        self._flags: int | None = None

    def flags(self, value: int) -> None:
        if value != self._flags:
            self.lines.append(f"@{value:x}")
            self._flags = value

    def signal(self, relative: str, fmt: int = 0, *, translate: Path | None = None) -> bool:
        """Show ``relative`` (to the SoC scope) in format ``fmt`` (1-bit signals in binary),
        through the translate filter file ``translate`` if given; False if the waveform lacks it."""
        var = self.wave.find(relative)
        if var is None:
            return False
        fmt = fmt if var.width > 1 and fmt else BIN
        if translate is not None:
            self.flags(fmt | TR_FTRANSLATED)
            self.lines.append(f"^1 {translate}")
        else:
            self.flags(fmt)
        self.lines.append(var.gtkwave_name)
        self.signals.append(var.gtkwave_name)
        return True

    def group(self, name: str, body) -> None:
        """A named group holding what ``body()`` adds; left out when the waveform has none of it."""
        start = len(self.lines)
        self.flags(TR_GRP_BEGIN | TR_BLANK)
        self.lines.append(f"-{name}")
        before = len(self.signals)
        body()
        if len(self.signals) == before:          # nothing of it in this waveform
            del self.lines[start:]
            self._flags = None
            return
        self.flags(TR_GRP_END | TR_BLANK)
        self.lines.append(f"-{name}")


def _core_group(save: _SaveFile, cpu: int, translate: Path):
    def body():
        c = f"cpu{cpu}"
        save.signal(f"{c}.debug.curthread", HEX, translate=translate)
        save.signal(f"{c}.debug.pri", DEC)
        save.signal(f"{c}.debug.critdepth", DEC)
        save.signal(f"{c}.debug.event", HEX)
        save.signal(f"{c}.intc.irq")
        save.signal(f"{c}.intc.pending", BIN)
        save.signal(f"{c}.timer.pending")
        for port, fmt in (("cyc", 0), ("stb", 0), ("we", 0), ("adr", HEX), ("dat_w", HEX), ("dat_r", HEX),
                          ("ack", 0), ("err", 0), ("irq", 0)):
            save.signal(f"{c}__{port}", fmt)
    return body


def _busiest_ipi_cpus(wave: _Waveform) -> list[int]:
    """The CPUs whose incoming IPIs changed most often (at most ``_MAX_IPI_CPUS``), or the first two
    if none received one."""
    cpus = wave.ipi_cpus()

    def changes(cpu):
        return max(len(wave.find(f"ipi.pending_{cpu}").changes()) - 1, 0)

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
        named.append((_time(int(panic["cycle"]), wave),
                      f"panic on cpu{panic.get('cpu')} in {panic.get('thread')}: {panic.get('message', '')}"))
    failed = [check for check in counters.get("checks", []) if not check.get("ok", True)]
    if failed:
        label = f"failed check: {failed[0]['name']} (end of run)"
        if panic:                                 # a panic ends the run: one marker for both
            named[0] = (named[0][0], f"{named[0][1]}; {label}")
        else:
            named.append((wave.end or _time(_last_trace_cycle(run_dir), wave), label))
    primary = named[0][0] if named else -1
    return primary, [(t, " ".join(label.split())) for t, label in named]


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
        var = wave.find(f"cpu{cpu}.debug.curthread")
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

    save = _SaveFile(wave)
    save.signal("cycle", DEC)
    for cpu in wave.cpus():
        save.group(f"cpu{cpu}", _core_group(save, cpu, translate_path))

    def mplock():
        save.signal("mplock.held")
        save.signal("mplock.owner", DEC)

    def ipi():
        # The FIFOs live in memories (hdl/ipi.py); a CPU's ports show the FIFO they address.
        for c in _busiest_ipi_cpus(wave):
            def port(c=c):
                save.signal(f"ipi.pending_{c}", BIN)          # bit s: FIFO[s][c] holds an entry
                for side in ("tx", "rx"):
                    save.signal(f"ipi.{side}{c}_slot", DEC)
                    save.signal(f"ipi.{side}{c}_windex", DEC)
                    save.signal(f"ipi.{side}{c}_rindex", DEC)
                save.signal(f"ipi.wof_{c}", BIN)
                save.signal(f"ipi.roe_{c}", BIN)
            save.group(f"ipi_cpu{c}", port)

    def ram():
        save.signal("ram_arbiter.requests", BIN)
        save.signal("ram_arbiter.grant", BIN)
        save.signal("ram.write_port__en")
        save.signal("ram.write_port__addr", HEX)
        save.signal("ram.write_port__data", HEX)

    save.group("mplock", mplock)
    save.group("ipi", ipi)
    save.group("ram", ram)

    primary, named = _markers(run_dir, wave)
    times = [t for t, _ in named] + [-1] * (_NAMED_MARKERS - len(named))
    header = [
        "[*]",
        f"[*] lwkt-soc run view (sim/reports/gtkwave.py): gtkwave {save_path}",
        "[*]",
        f'[dumpfile] "{path}"',
        f'[savefile] "{save_path}"',
        "[timestart] 0",
        f"[size] {_WINDOW[0]} {_WINDOW[1]}",
        "[pos] -1 -1",
        f"*{_zoom(wave):.6f} {primary} " + " ".join(map(str, times)),
    ]
    header += [f"[markername] {chr(ord('A') + i)}{label}" for i, (_, label) in enumerate(named)]
    scopes = wave.soc.split(".")[:-1]
    header += [f"[treeopen] {'.'.join(scopes[:i + 1])}." for i in range(len(scopes))]
    header += [f"[sst_width] {_SST_WIDTH}", f"[signals_width] {_SIGNALS_WIDTH}",
               "[sst_expanded] 1", "[sst_vpaned_height] 250"]
    atomic_write(save_path, "\n".join(header + save.lines) + "\n")
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
