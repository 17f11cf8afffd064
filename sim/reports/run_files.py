"""One reader of a run folder's files, for every command that reads a finished run
(``report``, ``check``, ``waves``/GTKWave files, the timeline, ``stress``, ``shrink``).

Each method names the file and what is wrong with it when it cannot be read
(a :class:`UsageError`: the folder is not a run, or a file is damaged).
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.contract.errors import UsageError
from sim.contract.config import RUN_CONFIG_FILE, RunConfig
from sim.contract.paths import REPORT_SCHEMA

__all__ = ["RunFiles"]


class RunFiles:
    """The files of the run in ``folder`` (its ``--out``)."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def _json(self, name: str) -> dict:
        path = self.folder / name
        if not self.folder.is_dir():
            raise UsageError(f"{self.folder}: no such run folder")
        if not path.is_file():
            raise UsageError(f"{self.folder} holds no {name} (is it the --out folder of a run?)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}): a truncated or damaged "
                f"file; run the scenario again"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path} cannot be read ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a JSON object")
        return data

    def config(self) -> RunConfig | None:
        """run.json, or None for a run made before it existed."""
        path = self.folder / RUN_CONFIG_FILE
        return RunConfig.read(path) if path.is_file() else None

    def counters(self, required: bool = True) -> dict:
        """counters.json (``{}`` when missing and not ``required``)."""
        if not required and not (self.folder / "counters.json").is_file():
            return {}
        return self._json("counters.json")

    def report(self, complete: bool = True) -> dict:
        """report.json, validated against its JSON schema (``complete`` False: any JSON object, for a
        reader that needs only a few keys and checks them itself)."""
        import jsonschema

        report = self._json("report.json")
        if not complete:
            return report
        schema = json.loads(REPORT_SCHEMA.read_text())
        path = self.folder / "report.json"
        if not isinstance(report, dict) or report.get("schema") != schema["$id"]:
            found = report.get("schema") if isinstance(report, dict) else type(report).__name__
            raise UsageError(f"{path} is not a {schema['$id']} report (schema {found!r})")
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(report))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "the top level"
            raise UsageError(
                f"{path} is not a valid {schema['$id']} report ({' '.join(error.message.split())[:160]} at {where})"
            )
        return report

    def trace(self, required: bool = True) -> list[dict]:
        """trace.jsonl's records, in file order (``[]`` when missing and not ``required``)."""
        path = self.folder / "trace.jsonl"
        if not path.is_file():
            if required:
                raise UsageError(f"{self.folder} holds no trace.jsonl (is it the --out folder of a run?)")
            return []
        records = []
        try:
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise UsageError(f"{path}: line {n} is not JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise UsageError(f"{path}: line {n} is not a JSON object")
                    records.append(record)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path} cannot be read ({exc})") from None
        return records
