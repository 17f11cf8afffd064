"""Parameters of one SoC configuration, validated in one place.

Pure Python (no Amaranth import) so that the firmware, the simulator glue and the
command line can all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .mutants import HW_MUTANTS

__all__ = ["SocConfig", "ConfigError", "MAX_CPUS", "MAX_SOURCES", "FIXED_SOURCES"]

#: RX_PENDING is one 32-bit word, one bit per source CPU.
MAX_CPUS = 32
#: PENDING/ENABLE are one word each, one bit per interrupt source.
MAX_SOURCES = 32
#: Sources 0 (IPI), 1 (timer) and 2 (soft) exist on every CPU; external lines follow.
FIXED_SOURCES = 3


#: Verilog name of the top module: every tool that names the SoC's hierarchy takes it from here.
TOPLEVEL = "lwkt_soc"


class ConfigError(ValueError):
    """A parameter of :class:`SocConfig` is outside its range."""


def _is_pow2(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


@dataclass(frozen=True)
class SocConfig:
    """One configuration of the SoC.

    Parameters
    ----------
    ncpu:
        Number of cores, 1 to 32.
    fifo_depth:
        Entries of each IPI FIFO (the seed's MAXCPUFIFO, 32 in DragonFly BSD);
        a power of two from 2 to 1024.
    ram_words:
        Size of the shared RAM in 32-bit words; a power of two from 16 to 2**20.
    ext_lines:
        External interrupt lines, 0 to 29 (3 sources are fixed, 32 at most).
    prio_bits:
        Width of each interrupt PRIO register, 1 to 8.
    mutant:
        Name of a planted hardware bug from :data:`hdl.mutants.HW_MUTANTS`, for
        mutation testing; ``""`` (the default) is the correct design.
    """

    ncpu: int = 4
    fifo_depth: int = 32
    ram_words: int = 4096
    ext_lines: int = 4
    prio_bits: int = 8
    mutant: str = ""

    def __post_init__(self):
        def check(name, ok, rule):
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r}: {rule}")

        for name in ("ncpu", "fifo_depth", "ram_words", "ext_lines", "prio_bits"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}={getattr(self, name)!r}: must be an integer")
        check("ncpu", 1 <= self.ncpu <= MAX_CPUS, f"CPU count must be 1..{MAX_CPUS}")
        check(
            "fifo_depth",
            _is_pow2(self.fifo_depth) and 2 <= self.fifo_depth <= 1024,
            "FIFO depth must be a power of two in 2..1024",
        )
        check(
            "ram_words",
            _is_pow2(self.ram_words) and 16 <= self.ram_words <= 1 << 20,
            "RAM size must be a power of two in 16..1048576 words",
        )
        check(
            "ext_lines",
            0 <= self.ext_lines <= MAX_SOURCES - FIXED_SOURCES,
            f"external line count must be 0..{MAX_SOURCES - FIXED_SOURCES}",
        )
        check("prio_bits", 1 <= self.prio_bits <= 8, "PRIO width must be 1..8 bits")
        check(
            "mutant",
            self.mutant == "" or (isinstance(self.mutant, str) and self.mutant in HW_MUTANTS),
            f"unknown hardware mutant; known: {', '.join(HW_MUTANTS)}",
        )

    @property
    def n_sources(self) -> int:
        """Interrupt sources per CPU: IPI, timer, soft, then the external lines."""
        return FIXED_SOURCES + self.ext_lines

    @property
    def slug(self) -> str:
        """A short name for build directories: ``c4-f32-r4096-e4-p8``, with
        ``-m<mutant>`` appended only for a mutant (correct designs keep their names)."""
        return f"c{self.ncpu}-f{self.fifo_depth}-r{self.ram_words}-e{self.ext_lines}-p{self.prio_bits}" + (
            f"-m{self.mutant}" if self.mutant else ""
        )
