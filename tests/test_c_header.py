"""``lwkt-soc regs --c-header``: the memory map as a C header, checked by a C compiler against the map."""

import subprocess
import sys

import pytest

from hdl import memory_map as mm
from hdl.config import SocConfig
from sim.contract.paths import PROJECT_ROOT
from sim.reports.cheader import render_c_header


def _asserts() -> list[str]:
    """A _Static_assert per register (slot 1 and index 2 where it takes them) and per field."""
    config = SocConfig(ncpu=4)
    checks = [f'_Static_assert(LWKT_SOC_ID == {mm.SOC_ID:#x}u, "id");']
    checks.append(f'_Static_assert(LWKT_CORE_LOCAL_BASE == {mm.CORE_LOCAL.base:#x}u, "local");')
    for block in mm.BLOCKS:
        for reg in block.registers:
            slot = 1 if block.slot_stride else None
            index = 2 if reg.count is not None and reg.count(config) > 2 else (0 if reg.count is not None else None)
            args = [str(a) for a in (slot, index) if a is not None]
            call = f"({', '.join(args)})" if args else ""
            address = block.addr(reg.name, slot=slot, index=index)
            name = f"LWKT_{block.name.upper()}_{reg.name}"
            checks.append(f'_Static_assert({name}{call} == {address:#x}u, "{name}");')
            for f in reg.fields:
                checks.append(f'_Static_assert({name}_{f.name}_MASK == {f.mask:#x}u, "{name}.{f.name}");')
                checks.append(f'_Static_assert({name}_{f.name}_SHIFT == {f.lsb}u, "{name}.{f.name}");')
    return checks


def test_every_address_and_field_of_the_header_equals_the_memory_map(tmp_path):
    from sim.host.rv32_toolchain import TARGET_FLAGS, compiler

    pytest.importorskip("ziglang")
    (tmp_path / "lwkt_soc.h").write_text(render_c_header())
    source = tmp_path / "check.c"
    source.write_text(
        '#include "lwkt_soc.h"\n' + "\n".join(_asserts()) + "\nunsigned f(void) { return lwkt_read(LWKT_SYS_CPUID); }\n"
    )
    result = subprocess.run(
        [*compiler(), *TARGET_FLAGS, "-Wall", "-Werror", "-c", "-o", str(tmp_path / "check.o"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(_asserts()) > 60


def test_the_command_writes_the_header(tmp_path):
    out = tmp_path / "include" / "lwkt_soc.h"
    result = subprocess.run(
        [sys.executable, "-m", "sim.cli", "regs", "--c-header", "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == render_c_header()
    assert (
        "#define LWKT_IPI_TX_TX_ARG(slot) (LWKT_IPI_TX_BASE + 0x00000020u * (unsigned)(slot) + 0x00000004u)"
        in out.read_text()
    )
