"""The documentation site builds in MkDocs' strict mode: every internal link and anchor of README and
docs/ resolves, and the API reference renders every package's docstrings."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_site_builds_with_every_link_resolved(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "build_site.py"), "--out", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*.html")}
    assert {"index.html", "architecture.html", "registers.html", "api/sim.html", "api/hdl.html"} <= pages
    api = (tmp_path / "site" / "api" / "sim.html").read_text()
    for module in ("sim.contract.config", "sim.host.run", "sim.tb.machine", "sim.campaigns.regress"):
        assert f'id="{module}"' in api, module


def test_a_broken_link_fails_the_build(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import build_site
    finally:
        sys.path.remove(str(ROOT / "docs"))
    pages = tmp_path / "docs"
    pages.mkdir()
    (pages / "a.md").write_text("# A\n\nSee [nowhere](missing.md) and [here](a.md#no-such-heading).\n")
    monkeypatch.setattr(build_site, "DOCS", pages)
    assert build_site.main(["--out", str(tmp_path / "site")]) == build_site.EXIT_FAILED
