"""Build the documentation site (``make docs``): README as the front page, every page of docs/, and an
API reference from the docstrings of every package, with MkDocs in strict mode.

    python docs/build_site.py [--out build/site]

Strict mode makes every broken internal link or anchor an error (external links are not fetched:
the build runs without network). A link from a page to a file of the repository that is not a
page (a schema, a source file) is kept working by copying that file into the site. The MkDocs
configuration is written next to the staged pages in the build folder, so the repository keeps
its top level as it is.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The packages documented in the API reference, each with its layer's subpackages.
API_PACKAGES = ("hdl", "firmware", "sim", "formal")
_LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
#: Index notation in prose, ``FIFO[s][d]``: Markdown reads ``[s][d]`` as a reference link.
_INDEXED = re.compile(r"(\w)\[([^\]\s(]+)\]\[")

EXIT_OK, EXIT_FAILED, EXIT_ENVIRONMENT = 0, 1, 3


def _modules(package: str) -> list[str]:
    """Every module of ``package`` (a folder of the repository), packages first, in order."""
    base = ROOT / package.replace(".", "/")
    names = []
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names.append(name)
    return sorted(set(names), key=lambda n: (n.count("."), n))


def _stage_links(text: str, page: Path, stage: Path, source_dir: Path) -> str:
    """Rewrite links of a page moved from ``source_dir`` into the staging folder: docs pages keep
    theirs, repository files that are not pages are copied under ``files/``."""

    def fix(match):
        target, anchor = match.group(2), match.group(3) or ""
        if "://" in target or target.startswith("mailto:"):
            return match.group(0)
        resolved = (source_dir / target).resolve()
        if resolved.parent == DOCS and resolved.suffix == ".md":
            return f"{match.group(1)}{resolved.name}{anchor}{match.group(4)}"
        if resolved == ROOT / "README.md":
            return f"{match.group(1)}index.md{anchor}{match.group(4)}"
        if resolved.is_relative_to(DOCS / "img") and resolved.exists():
            return f"{match.group(1)}img/{resolved.relative_to(DOCS / 'img')}{anchor}{match.group(4)}"
        if resolved.is_relative_to(ROOT) and resolved.is_file():
            copy = stage / "files" / resolved.relative_to(ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resolved, copy)
            return f"{match.group(1)}files/{resolved.relative_to(ROOT)}{anchor}{match.group(4)}"
        return match.group(0)  # left for MkDocs to report

    return _LINK.sub(fix, text)


def _escape_indices(text: str) -> str:
    """``FIFO[s][d]`` in prose as text, not a reference link (code spans and blocks kept as they are)."""
    out, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced:
            parts = re.split(r"(`[^`]*`)", line)
            line = "".join(p if p.startswith("`") else _INDEXED.sub(r"\1[\2]\\[", p) for p in parts)
        out.append(line)
    return "\n".join(out)


def stage(stage_dir: Path) -> list:
    """Copy the pages into ``stage_dir``; returns the navigation."""
    shutil.rmtree(stage_dir, ignore_errors=True)
    (stage_dir / "api").mkdir(parents=True)
    if (DOCS / "img").is_dir():
        shutil.copytree(DOCS / "img", stage_dir / "img")
    readme = (ROOT / "README.md").read_text()
    (stage_dir / "index.md").write_text(_escape_indices(_stage_links(readme, ROOT / "README.md", stage_dir, ROOT)))
    pages = []
    for page in sorted(DOCS.glob("*.md")):
        (stage_dir / page.name).write_text(_escape_indices(_stage_links(page.read_text(), page, stage_dir, DOCS)))
        title = page.read_text().splitlines()[0].lstrip("# ").strip() if page.read_text() else page.stem
        pages.append({title: page.name})
    pages.sort(key=lambda p: (list(p.values())[0] != "architecture.md", list(p.keys())[0].lower()))
    api = []
    for package in API_PACKAGES:
        body = [f"# `{package}`", ""]
        for module in _modules(package):
            body += [f"::: {module}", "    options:", "      members_order: source", "      show_submodules: false", ""]
        (stage_dir / "api" / f"{package}.md").write_text("\n".join(body))
        api.append({package: f"api/{package}.md"})
    return [{"Home": "index.md"}, *pages, {"API reference": api}]


def write_config(stage_dir: Path, site_dir: Path, nav: list) -> Path:
    import json

    config = {
        "site_name": "lwkt-soc",
        "docs_dir": str(stage_dir),
        "site_dir": str(site_dir),
        "strict": True,
        "use_directory_urls": False,
        "theme": {"name": "mkdocs"},
        "nav": nav,
        "validation": {
            "omitted_files": "warn",
            "absolute_links": "warn",
            "unrecognized_links": "warn",
            "anchors": "warn",
        },
        "plugins": [
            "search",
            {
                "mkdocstrings": {
                    "handlers": {
                        "python": {
                            "paths": [str(ROOT)],
                            "options": {
                                "docstring_style": None,
                                "show_source": False,
                                "show_root_heading": True,
                                "heading_level": 2,
                                "show_if_no_docstring": False,
                            },
                        }
                    }
                }
            },
        ],
    }
    path = stage_dir.parent / "mkdocs.yml"
    path.write_text(json.dumps(config, indent=1))  # YAML is a superset of JSON
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/build_site.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"), help="the site's folder (default build/site)")
    args = parser.parse_args(argv)
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError:
        print(
            "docs/build_site.py: error: MkDocs is missing: pip install 'lwkt-soc[docs]' (make docs installs it)",
            file=sys.stderr,
        )
        return EXIT_ENVIRONMENT
    site = Path(args.out).resolve()
    stage_dir = site.parent / f"{site.name}-src" / "pages"
    nav = stage(stage_dir)
    config = write_config(stage_dir, site, nav)
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config)],
        capture_output=True,
        text=True,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "WARNING" in line or "ERROR" in line]
    for line in problems:
        print(line, file=sys.stderr)
    if done.returncode != 0:
        print(f"docs/build_site.py: the site did not build ({len(problems)} problem(s) above)", file=sys.stderr)
        return EXIT_FAILED
    print(f"site: {site / 'index.html'} ({len(list(site.rglob('*.html')))} pages)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
