"""Which code a run ran: the git commit, whether the tree was dirty, and a digest of the sources.

Read straight from the ``.git`` folder (HEAD, refs, packed-refs and the index), so that
nothing here runs git or needs it installed. The source digest is part of every
campaign run key: a run recorded for one state of the code is never taken for
another, committed or not. ``dirty`` compares the tracked files with git's index
(as ``git diff`` does); a change that is only staged is not seen there, but the
digest sees it. ``LWKT_SOC_COMMIT`` names the commit where there is no ``.git``
(a tree copied onto a cluster, an installed wheel).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from sim.contract.paths import PROJECT_ROOT

__all__ = ["Revision", "current_revision", "source_digest", "PROJECT_ROOT"]

#: What a run executes: the hardware, the kernel, the simulation side, and the RTL's unit tests (a campaign
#: run of make mutants; absent from an installed wheel).
SOURCE_DIRS = ("hdl", "firmware", "sim", "tests/hdl")


@dataclass(frozen=True)
class Revision:
    commit: str  # 40 hex digits, or "unknown"
    dirty: bool | None  # None: not known (no .git, or an index format this reader does not parse)
    digest: str  # sha256 of the sources, 16 hex digits

    @property
    def label(self) -> str:
        short = self.commit[:10] if self.commit != "unknown" else "unknown"
        return short + (f"+dirty.{self.digest[:6]}" if self.dirty else "")

    def as_dict(self) -> dict:
        return {"commit": self.commit, "dirty": self.dirty, "digest": self.digest}


def source_digest(root: Path = PROJECT_ROOT) -> str:
    """A digest of every source file that can change what a run does (``LWKT_SOC_SOURCE_DIGEST`` pins it:
    for tests that must not see a tree being edited meanwhile)."""
    pinned = os.environ.get("LWKT_SOC_SOURCE_DIGEST")
    if pinned:
        return pinned
    digest = hashlib.sha256()
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".py", ".json") or "__pycache__" in path.parts or not path.is_file():
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _git_dir(root: Path) -> Path | None:
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():  # a worktree or submodule: "gitdir: PATH"
        text = dot.read_text().strip()
        if text.startswith("gitdir:"):
            path = Path(text.split(":", 1)[1].strip())
            return path if path.is_absolute() else (root / path).resolve()
    return None


def _common_dir(gitdir: Path) -> Path:
    common = gitdir / "commondir"
    if common.is_file():
        path = Path(common.read_text().strip())
        return path if path.is_absolute() else (gitdir / path).resolve()
    return gitdir


def _head_commit(gitdir: Path) -> str | None:
    head = (gitdir / "HEAD").read_text().strip()
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = _common_dir(gitdir)
    for base in (gitdir, common):
        if (base / ref).is_file():
            return (base / ref).read_text().strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0]
    return None  # a branch with no commit yet


def _index_dirty(gitdir: Path, root: Path) -> bool | None:
    """True when a tracked file's content differs from the index (versions 2 and 3 of its format)."""
    try:
        data = (gitdir / "index").read_bytes()
    except OSError:
        return None
    if data[:4] != b"DIRC":
        return None
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        return None
    pos = 12
    for _ in range(count):
        (_, _, mtime_s, mtime_ns, _, _, mode, _, _, size) = struct.unpack(">10I", data[pos : pos + 40])
        sha = data[pos + 40 : pos + 60].hex()
        flags = struct.unpack(">H", data[pos + 60 : pos + 62])[0]
        start = pos + 62 + (2 if version == 3 and flags & 0x4000 else 0)
        end = data.index(b"\0", start)
        name = data[start:end].decode("utf-8", "surrogateescape")
        pos += ((end - pos) // 8 + 1) * 8  # entries are NUL-padded to a multiple of 8 bytes
        if mode >> 12 == 0o16:  # a submodule: not ours to read
            continue
        path = root / name
        try:
            info = path.lstat()
        except OSError:
            return True  # a tracked file deleted
        if info.st_size == size and int(info.st_mtime) == mtime_s and info.st_mtime_ns % 10**9 == mtime_ns:
            continue  # stat unchanged since git last looked: as git, trust it
        content = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        if hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest() != sha:
            return True
    return False


def current_revision(root: Path = PROJECT_ROOT) -> Revision:
    """The commit, dirty flag and source digest of the tree at ``root``."""
    digest = source_digest(root)
    commit, dirty = os.environ.get("LWKT_SOC_COMMIT") or None, None
    gitdir = _git_dir(root)
    if gitdir is not None:
        try:
            commit = commit or _head_commit(gitdir)
            dirty = _index_dirty(gitdir, root)
        except (OSError, ValueError, struct.error):
            dirty = None
    return Revision(commit or "unknown", dirty, digest)
