"""The project as a user installs it: a wheel (not editable) in a fresh virtualenv, run from another
folder. Everything a run reads (schemas, the seed-function list, the directed modules) must be in it.

The builds are shared with the checkout's cache (LWKT_SOC_BUILD_DIR): the wheel's hardware sources
are the checkout's, so its build keys are the same and nothing is built twice.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.contract.paths import BUILD_ROOT
from tests.conftest import require_simulator

ROOT = Path(__file__).resolve().parent.parent


def _run(command, *, cwd, env, timeout=1800):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv with the wheel installed: (its bin folder, an environment, a work folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # From a copy of the sources: setuptools builds in the tree's build/lib, which it never clears,
    # and build/ of the checkout is the SoC build cache.
    source = tmp / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "runs", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    code, out = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(source)],
        cwd=tmp,
        env=dict(os.environ),
    )
    assert code == 0, out[-4000:]
    [wheel] = (tmp / "dist").glob("lwkt_soc-*.whl")
    code, out = _run([sys.executable, "-m", "venv", str(tmp / "venv")], cwd=tmp, env=dict(os.environ))
    assert code == 0, out
    bin_dir = tmp / "venv" / "bin"
    # With the campaigns extra: make mutants runs on the campaign engine (Dask).
    code, out = _run([str(bin_dir / "pip"), "install", "--quiet", f"{wheel}[campaigns]"], cwd=tmp, env=dict(os.environ))
    assert code == 0, out[-4000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["LWKT_SOC_BUILD_DIR"] = str(BUILD_ROOT)
    work = tmp / "elsewhere"
    work.mkdir()
    return bin_dir, env, work


def test_the_wheel_is_what_runs(installed):
    bin_dir, env, work = installed
    code, out = _run(
        [str(bin_dir / "python"), "-c", "import sim, hdl, firmware; print(sim.__file__)"], cwd=work, env=env
    )
    assert code == 0, out
    location = Path(out.strip().splitlines()[-1])
    assert "site-packages" in location.parts and ROOT not in location.parents, location


@pytest.mark.verilator
@pytest.mark.xdist_group("wheel")
def test_run_report_check_and_a_mutant_from_the_wheel(installed):
    require_simulator("verilator")
    bin_dir, env, work = installed
    code, out = _run(
        [str(bin_dir / "lwkt-soc"), "run", "--scenario", "up-basic", "--sim", "verilator", "--out", "up"],
        cwd=work,
        env=env,
    )
    assert code == 0, out[-4000:]
    report = json.loads((work / "up" / "report.json").read_text())
    assert report["ok"] and report["scenario"] == "up-basic"
    code, out = _run([str(bin_dir / "lwkt-soc"), "report", "up"], cwd=work, env=env)
    assert code == 0 and "up-basic" in out, out[-2000:]
    code, out = _run([str(bin_dir / "lwkt-soc"), "check", "up"], cwd=work, env=env)
    assert code == 0, out[-2000:]
    # One planted bug through the whole kill suite (named scenarios and the directed modules, which
    # live in the package): the suite passes unmutated, and up-basic catches the bug.
    code, out = _run(
        [
            str(bin_dir / "python"),
            "-m",
            "sim.campaigns.mutants",
            "--only",
            "no-rotate",
            "--seeds",
            "0",
            "--no-hardware",
            "--jobs",
            "1",
            "--out",
            "mutants",
        ],
        cwd=work,
        env=env,
    )
    assert code == 0, out[-4000:]
    result = json.loads((work / "mutants" / "mutants.json").read_text())
    [mutant] = [m for m in result["mutants"] if m["name"] == "no-rotate"]
    assert mutant["killed"] and mutant["by"].startswith("up-basic"), mutant
