"""The results database of regression campaigns: one SQLite file, no server.

Only the campaign's client process writes it (``sim/campaigns/regress.py``), one transaction
per finished run, keyed by the run key (campaign, source digest, configuration,
seed): a run is recorded once however often Dask ran its task, and a client
killed at any point loses only the runs it had not written yet. Readers
(``lwkt-soc results``) may read while a campaign writes (WAL journal).

Schema version 3 (``PRAGMA user_version``; docs/campaigns.md explains every column). Version 1 lacked the
runs' ``kind`` and ``mutant`` columns, version 2 their ``source_mutant``; an older file is brought up to
date when opened (:data:`MIGRATIONS`), even by a reader, its runs keeping their rows (``kind``
"scenario", no mutant).

- ``meta(key, value)``: ``schema_version``, ``created``;
- ``sessions``: one row per invocation of a campaign (its revision, what it planned, how it ended);
- ``configs(config_id, config, label)``: each configuration once (JSON: scenario, CPUs, FIFO depth,
  faults, simulator, cost model, ...);
- ``runs``: one row per run (configuration, seed, status, failed checks, panic, signature,
  counters, latencies, coverage bins, cycles, times, output folder);
- ``bins(id, name)``: the coverage bins by number; ``runs.bins`` is a bitmap over these numbers
  (bit ``id`` of the little-endian integer), so a run's coverage takes a few bytes;
- ``shrinks``: the shrunk workload of one seed per failure signature and campaign.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from sim.contract.errors import EnvironmentProblem, UsageError
from sim.contract.run_options import RECORD_COLUMNS, RUN_OPTIONS, record_columns

__all__ = ["ResultsDB", "SCHEMA_VERSION", "STATUSES", "MIGRATIONS"]

SCHEMA_VERSION = 3
STATUSES = ("pass", "fail", "panic", "error")

_SCHEMA_TEMPLATE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    campaign TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    dirty INTEGER,
    source_digest TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    planned INTEGER NOT NULL,
    already INTEGER NOT NULL,
    recorded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    engine TEXT NOT NULL,
    workers INTEGER,
    status TEXT NOT NULL,
    campaign_json TEXT NOT NULL
);
CREATE TABLE bins (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE configs (config_id TEXT PRIMARY KEY, config TEXT NOT NULL, label TEXT NOT NULL);
CREATE TABLE runs (
    run_key TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    session INTEGER NOT NULL REFERENCES sessions(id),
    commit_sha TEXT NOT NULL,
    dirty INTEGER,
    source_digest TEXT NOT NULL,
    config_id TEXT NOT NULL REFERENCES configs(config_id),
{config_columns}
    status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'panic', 'error')),
    outcome TEXT,
    exit_code INTEGER,
    failed_checks TEXT NOT NULL,
    panic TEXT,
    signature TEXT,
    checks INTEGER,
    counters TEXT,
    latencies TEXT,
    bins BLOB,
    cycles INTEGER,
    sim_seconds REAL,
    wall_seconds REAL,
    out_dir TEXT,
    worker TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    recorded REAL NOT NULL
);
CREATE INDEX runs_by_campaign ON runs(campaign, source_digest, status);
CREATE INDEX runs_by_config ON runs(config_id, seed);
CREATE TABLE shrinks (
    campaign TEXT NOT NULL,
    signature TEXT NOT NULL,
    run_key TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config_id TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    source_digest TEXT NOT NULL,
    status TEXT NOT NULL,
    size_from INTEGER,
    size_to INTEGER,
    runs INTEGER,
    spec TEXT,
    spec_path TEXT,
    command TEXT,
    detail TEXT,
    recorded REAL NOT NULL,
    PRIMARY KEY (campaign, signature)
);
"""

# The runs' configuration columns are those of the field table (sim/contract/run_options.py), in its order.
_SCHEMA = _SCHEMA_TEMPLATE.replace(
    "{config_columns}", "\n".join(f"    {name} {sql} NOT NULL," for name, sql in RECORD_COLUMNS)
)
_TABLES = ("meta", "sessions", "bins", "configs", "runs", "shrinks")


def _added_columns(*names: str) -> list[str]:
    """ALTER statements that add the configuration columns ``names`` with their defaults."""
    options = {option.record: option for option in RUN_OPTIONS if option.column}
    sql = dict(RECORD_COLUMNS)
    statements = []
    for name in names:
        default = options[name].default
        literal = f"'{default}'" if isinstance(default, str) else str(int(default))
        statements.append(f"ALTER TABLE runs ADD COLUMN {name} {sql[name]} NOT NULL DEFAULT {literal}")
    return statements


#: version -> the statements that bring a file of that version to the next one.
MIGRATIONS: dict[int, list[str]] = {1: _added_columns("mutant", "kind"), 2: _added_columns("source_mutant")}
#: The columns of ``runs`` a result fills, in order: the run's key and revision, its configuration, its result.
_RUN_COLUMNS = (
    "run_key",
    "campaign",
    "session",
    "commit_sha",
    "dirty",
    "source_digest",
    "config_id",
    *(name for name, _ in RECORD_COLUMNS),
    "status",
    "outcome",
    "exit_code",
    "failed_checks",
    "panic",
    "signature",
    "checks",
    "counters",
    "latencies",
    "bins",
    "cycles",
    "sim_seconds",
    "wall_seconds",
    "out_dir",
    "worker",
    "attempt",
    "recorded",
)


class ResultsDB:
    """An open results database (created with the current schema when missing)."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise UsageError(f"{self.path}: no such results database (run lwkt-soc regress first)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: every write below opens its own explicit transaction.
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{self.path}: not a results database ({exc})") from None
        except OSError as exc:
            raise EnvironmentProblem(f"{self.path}: cannot open the results database ({exc.strerror or exc})") from None
        try:
            if version == 0 and tables == 0:
                if not create:
                    raise UsageError(f"{self.path}: an empty database, no campaign recorded")
                self._create()
            elif version > SCHEMA_VERSION:
                raise UsageError(
                    f"{self.path}: results schema version {version}; this lwkt-soc reads up to "
                    f"{SCHEMA_VERSION} (update it)"
                )
            elif version in MIGRATIONS:
                self._migrate()
            elif version != SCHEMA_VERSION:
                raise UsageError(f"{self.path}: not a results database of lwkt-soc (schema version {version})")
            present = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = sorted(set(_TABLES) - present)
            if missing:
                raise UsageError(
                    f"{self.path}: not a results database of schema {SCHEMA_VERSION} (no table {missing[0]})"
                )
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}
            lacking = [name for name in _RUN_COLUMNS if name not in columns]
            if lacking:  # a run field recorded since the file was made: refused rather than half written
                raise UsageError(
                    f"{self.path}: its runs table has no column {lacking[0]} (made by another lwkt-soc); "
                    f"record into a new --db"
                )
            # WAL: readers never block the writer. NORMAL: a commit is in the WAL, which survives the writer's
            # death (SIGKILL) at once; only the OS going down can lose the last commits before a checkpoint.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise EnvironmentProblem(f"{self.path}: cannot use the results database ({exc})") from None
        self._bins: dict[str, int] = {row["name"]: row["id"] for row in self.db.execute("SELECT id, name FROM bins")}
        self._configs: set[str] = set()

    def _create(self) -> None:
        with self.transaction():
            if self.db.execute("PRAGMA user_version").fetchone()[0]:
                return  # another process created it meanwhile
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(statement)
            self.db.execute(
                "INSERT INTO meta VALUES ('schema_version', ?), ('created', ?)", (str(SCHEMA_VERSION), str(time.time()))
            )
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate(self) -> None:
        """Bring a file of an older schema to this one, in one transaction (also when opened to read: the
        steps only add columns with their defaults)."""
        with self.transaction():
            found = self.db.execute("PRAGMA user_version").fetchone()[0]
            while found in MIGRATIONS:  # another process may have migrated it meanwhile
                for statement in MIGRATIONS[found]:
                    self.db.execute(statement)
                found += 1
                self.db.execute(f"PRAGMA user_version = {found}")
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(found),))

    def transaction(self):
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------------------------

    def start_session(self, campaign, revision, *, planned: int, already: int, engine: str, workers: int | None) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO sessions (campaign, commit_sha, dirty, source_digest, started, planned, already, engine,"
                " workers, status, campaign_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (
                    campaign.name,
                    revision.commit,
                    _flag(revision.dirty),
                    revision.digest,
                    time.time(),
                    planned,
                    already,
                    engine,
                    workers,
                    json.dumps(campaign.as_dict(), sort_keys=True),
                ),
            )
            return cursor.lastrowid

    def finish_session(self, session: int, status: str, *, workers: int | None = None) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE sessions SET finished = ?, status = ?, workers = coalesce(?, workers) WHERE id = ?",
                (time.time(), status, workers, session),
            )

    def record(self, spec, revision, session: int, result: dict, *, replace: bool = False) -> bool:
        """Write one run's result; True when it was new. An existing row is kept, except one whose run
        ended in an error (the run could not run or report) or when ``replace``."""
        row = {
            "run_key": spec.run_key(revision.digest),
            "campaign": spec.campaign,
            "session": session,
            "commit_sha": revision.commit,
            "dirty": _flag(revision.dirty),
            "source_digest": revision.digest,
            "config_id": spec.config_id,
            **record_columns(spec.run),
            "status": result["status"],
            "outcome": result.get("outcome"),
            "exit_code": result.get("code"),
            "failed_checks": _json(result.get("failed", [])),
            "panic": result.get("panic"),
            "signature": json.dumps(result["signature"]) if result.get("signature") else None,
            "checks": result.get("checks"),
            "counters": _json(result.get("counters") or {}),
            "latencies": _json(result.get("latencies") or {}),
            "bins": self.encode_bins(result["bins"]) if result.get("bins") is not None else None,
            "cycles": result.get("cycles"),
            "sim_seconds": result.get("sim_seconds"),
            "wall_seconds": result.get("seconds"),
            "out_dir": result.get("out_dir"),
            "worker": result.get("worker"),
            "attempt": result.get("attempt", 1),
            "recorded": time.time(),
        }
        names = ", ".join(_RUN_COLUMNS)
        marks = ", ".join("?" for _ in _RUN_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c != "run_key")
        condition = "" if replace else " WHERE runs.status = 'error'"
        with self.transaction():
            if spec.config_id not in self._configs:
                self.db.execute(
                    "INSERT OR IGNORE INTO configs VALUES (?, ?, ?)", (spec.config_id, _json(spec.config()), spec.label)
                )
            cursor = self.db.execute(
                f"INSERT INTO runs ({names}) VALUES ({marks}) ON CONFLICT(run_key) DO UPDATE SET {updates}{condition}",
                [row[c] for c in _RUN_COLUMNS],
            )
            inserted = cursor.rowcount == 1
            self._configs.add(spec.config_id)
            if inserted:
                self.db.execute(
                    "UPDATE sessions SET recorded = recorded + 1, failed = failed + ? WHERE id = ?",
                    (int(result["status"] != "pass"), session),
                )
        return inserted

    def record_shrink(self, campaign: str, signature: list, spec, revision, result: dict) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO shrinks (campaign, signature, run_key, seed, config_id, commit_sha, source_digest, "
                "status, size_from, size_to, runs, spec, spec_path, command, detail, recorded) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(campaign, signature) DO UPDATE SET "
                "status = excluded.status, size_from = excluded.size_from, size_to = excluded.size_to, "
                "runs = excluded.runs, spec = excluded.spec, spec_path = excluded.spec_path, "
                "command = excluded.command, detail = excluded.detail, recorded = excluded.recorded, "
                "run_key = excluded.run_key, seed = excluded.seed, config_id = excluded.config_id, "
                "commit_sha = excluded.commit_sha, source_digest = excluded.source_digest",
                (
                    campaign,
                    json.dumps(signature),
                    spec.run_key(revision.digest),
                    spec.run.seed,
                    spec.config_id,
                    revision.commit,
                    revision.digest,
                    result["status"],
                    result.get("size_from"),
                    result.get("size_to"),
                    result.get("runs"),
                    result.get("spec"),
                    result.get("spec_path"),
                    result.get("command"),
                    result.get("detail"),
                    time.time(),
                ),
            )

    # -- coverage bins -----------------------------------------------------------------------------------

    def encode_bins(self, names) -> bytes:
        """A bitmap of bin numbers; names seen for the first time get the next numbers."""
        new = [name for name in sorted(set(names)) if name not in self._bins]
        if new:
            with self.transaction():
                for name in new:
                    self.db.execute("INSERT OR IGNORE INTO bins (name) VALUES (?)", (name,))
            self._bins = {row["name"]: row["id"] for row in self.db.execute("SELECT id, name FROM bins")}
        value = 0
        for name in names:
            value |= 1 << self._bins[name]
        return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "little")

    def decode_bins(self, blob: bytes | None) -> list[str]:
        if blob is None:
            return []
        names = {number: name for name, number in self._bins.items()}
        value = int.from_bytes(blob, "little")
        return sorted(names[n] for n in range(value.bit_length()) if value >> n & 1 and n in names)

    def bin_names(self) -> dict[int, str]:
        return {number: name for name, number in self._bins.items()}

    # -- reading -----------------------------------------------------------------------------------------

    def recorded_keys(self, campaign: str, digest: str) -> set[str]:
        """Run keys of this campaign and source digest that need no new run (errors are run again)."""
        rows = self.db.execute(
            "SELECT run_key FROM runs WHERE campaign = ? AND source_digest = ? AND status != 'error'",
            (campaign, digest),
        )
        return {row[0] for row in rows}

    def failed_keys(self, campaign: str, digest: str) -> set[str]:
        """Run keys of this campaign and source digest whose run failed, panicked or crashed (error)."""
        rows = self.db.execute(
            "SELECT run_key FROM runs WHERE campaign = ? AND source_digest = ? "
            "AND status IN ('fail', 'panic', 'error')",
            (campaign, digest),
        )
        return {row[0] for row in rows}

    def rows(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def shrunk_signatures(self, campaign: str) -> set[str]:
        return {
            row[0]
            for row in self.db.execute(
                "SELECT signature FROM shrinks WHERE campaign = ? AND status != 'error'", (campaign,)
            )
        }


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception): one writer, and all or nothing."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, exc, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _json(value) -> str:
    """Compact and stable: rows stay small, and equal values are equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)
