"""Checking a random-workload spec (``--spec FILE``) before anything is built.

A spec is the JSON that ``RandomSpec.to_json`` writes (and ``sim.campaigns.shrink``
reduces). It is checked in two steps, each failing with one line that names the
place and what is allowed (a :class:`SpecError`, exit 2):

1. its shape, against the JSON schema ``SPEC_SCHEMA`` (types, operation names,
   bounded lengths: at most ``MAX_THREADS`` threads of ``MAX_OPS`` operations);
2. what the schema cannot say: CPU numbers within the run's CPUs, and every
   queue given at least as many tickets as its consumers take (else they would
   wait forever and the run would only end at its cycle budget).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema

from sim.contract.errors import UsageError

__all__ = ["SpecError", "SPEC_SCHEMA", "load_spec_file", "MAX_THREADS", "MAX_OPS"]

MAX_THREADS = 64
MAX_OPS = 16_384  # a long run (bench/memory.py) repeats a program some thousand times
MAX_CYCLES = 100_000  # one work, critical-section or token-section length
MAX_GAP = 1_000_000  # cycles between two device requests
N_TOKENS, N_QUEUES = 3, 2  # the random workload's tokens and wait queues

_COUNT = {"type": "integer", "minimum": 1, "maximum": MAX_CYCLES}
_CPU = {"type": "integer", "minimum": 0, "maximum": 31}


def _op(name: str, *args) -> dict:
    items = [{"const": name}, *args]
    return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}


SPEC_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "lwkt-soc random workload spec",
    "type": "object",
    "required": ["ncpu", "threads", "devices"],
    "additionalProperties": False,
    "properties": {
        "ncpu": {"type": "integer", "minimum": 1, "maximum": 32},
        "threads": {
            "type": "array",
            "maxItems": MAX_THREADS,
            "items": {
                "type": "object",
                "required": ["cpu", "pri", "ops"],
                "additionalProperties": False,
                "properties": {
                    "cpu": _CPU,
                    "pri": {"type": "integer", "minimum": 1, "maximum": 31},
                    "ops": {
                        "type": "array",
                        "maxItems": MAX_OPS,
                        "items": {
                            "oneOf": [
                                _op("work", _COUNT),
                                _op("yield"),
                                _op("crit", _COUNT),
                                _op("token", {"type": "integer", "minimum": 0, "maximum": N_TOKENS - 1}, _COUNT),
                                _op("mplock", _COUNT),
                                _op("note", _CPU),
                                _op("v", {"type": "integer", "minimum": 0, "maximum": N_QUEUES - 1}),
                                _op("p", {"type": "integer", "minimum": 0, "maximum": N_QUEUES - 1}),
                                {
                                    **_op(
                                        "burst",
                                        _CPU,
                                        {"type": "integer", "minimum": 1, "maximum": 64},
                                        {"type": "integer", "minimum": 0, "maximum": 1},
                                    ),
                                    "minItems": 3,
                                },
                                _op("migrate", {"type": "integer", "minimum": 0, "maximum": N_QUEUES - 1}),
                                _op("spawn", _COUNT),
                                _op("reap", _COUNT),
                                _op("desched", _CPU, _COUNT),
                                _op("wake", {"type": "integer", "minimum": 0, "maximum": N_QUEUES - 1}),
                                _op(
                                    "offer",
                                    {"type": "integer", "minimum": 0, "maximum": 4},
                                    {"type": "integer", "minimum": 0, "maximum": 1},
                                ),
                            ]
                        },
                    },
                },
            },
        },
        "devices": {
            "type": "array",
            "maxItems": 29,
            "items": {
                "type": "object",
                "required": ["line", "cpu", "gaps"],
                "additionalProperties": False,
                "properties": {
                    "line": {"type": "integer", "minimum": 0, "maximum": 28},
                    "cpu": _CPU,
                    "gaps": {
                        "type": "array",
                        "maxItems": MAX_OPS,
                        "items": {"type": "integer", "minimum": 1, "maximum": MAX_GAP},
                    },
                    "pri": {"type": "integer", "minimum": 20, "maximum": 31},
                    "work": {"type": "integer", "minimum": 5, "maximum": MAX_CYCLES},
                    "kick": {"type": "boolean"},
                    "mpsafe": {"type": "boolean"},
                },
            },
        },
        "victim": {"type": ["integer", "null"], "minimum": 0, "maximum": 31},
        "deaf": {
            "oneOf": [{"type": "null"}, {"type": "array", "prefixItems": [_CPU, _COUNT], "items": False, "minItems": 2}]
        },
    },
}


class SpecError(UsageError):
    """The spec cannot be run (exit 2)."""


def _where(error: jsonschema.ValidationError, origin: dict[int, list[int]] | None = None) -> str:
    """Where ``error`` is, as ``threads[2].ops[7]``: an operation's index is its place in the spec as written
    (``origin``: :func:`_distinct_ops`)."""
    path = list(error.absolute_path)
    if origin and len(path) >= 4 and path[0] == "threads" and path[2] == "ops" and path[1] in origin:
        path[3] = origin[path[1]][path[3]]
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "(top level)"


def _distinct_ops(data):
    """The spec with each thread's operations cut to their first occurrences, and for each thread where
    those were: a long spec repeats a few operations thousands of times (bench/memory.py), and checking
    each of them against the schema once is what makes the check fast. The length is checked apart
    (:func:`_too_many_ops`)."""
    if not isinstance(data, dict) or not isinstance(data.get("threads"), list):
        return data, {}
    threads, origin = [], {}
    for i, thread in enumerate(data["threads"]):
        if not isinstance(thread, dict) or not isinstance(thread.get("ops"), list):
            threads.append(thread)
            continue
        seen: dict[str, int] = {}
        for j, op in enumerate(thread["ops"]):
            seen.setdefault(json.dumps(op, sort_keys=True), j)
        origin[i] = list(seen.values())
        threads.append({**thread, "ops": [thread["ops"][j] for j in origin[i]]})
    return {**data, "threads": threads}, origin


def _too_many_ops(data) -> jsonschema.ValidationError | None:
    """A thread with more than MAX_OPS operations (the schema saw only the distinct ones)."""
    for i, thread in enumerate(data["threads"]):
        if len(thread["ops"]) > MAX_OPS:
            return jsonschema.ValidationError(
                f"{len(thread['ops'])} operations: at most {MAX_OPS}", path=["threads", i, "ops"]
            )
    return None


def load_spec_file(path: str | Path, ncpu: int, ext_lines: int = 4) -> tuple[dict, str]:
    """The spec's data and its SHA-256, checked for a run on ``ncpu`` CPUs."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"--spec {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"--spec {path}: not valid JSON ({exc})") from None
    distinct, origin = _distinct_ops(data)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SPEC_SCHEMA).iter_errors(distinct))
    if error is None:
        error = _too_many_ops(data)
    if error is not None:
        hint = (
            f" (an operation is one of ['work', N], ['yield'], ['crit', N], ['token', 0..{N_TOKENS - 1}, N], "
            f"['mplock', N], ['note', cpu], ['v', q], ['p', q], ['burst', cpu, 1..64(, 0|1)], ['migrate', q], "
            f"['spawn', N], ['reap', N], ['desched', cpu, N], ['offer', 0..4, 0|1], ['wake', q] with "
            f"N in 1..{MAX_CYCLES} and q in 0..{N_QUEUES - 1})"
            if error.validator == "oneOf"
            else ""
        )
        raise SpecError(f"--spec {path}: at {_where(error, origin)}: {error.message}{hint}")
    if data["ncpu"] != ncpu:
        raise SpecError(f"--spec {path}: the spec is for {data['ncpu']} CPUs; run it with --cpus {data['ncpu']}")
    for i, thread in enumerate(data["threads"]):
        if thread["cpu"] >= ncpu:
            raise SpecError(f"--spec {path}: threads[{i}].cpu is {thread['cpu']}, but the run has CPUs 0..{ncpu - 1}")
        for j, op in enumerate(thread["ops"]):
            if op[0] in ("note", "burst", "desched") and op[1] >= ncpu:
                raise SpecError(
                    f"--spec {path}: threads[{i}].ops[{j}] sends to CPU {op[1]}, but the run has CPUs 0..{ncpu - 1}"
                )
    for i, device in enumerate(data["devices"]):
        if device["cpu"] >= ncpu or device["line"] >= ext_lines:
            raise SpecError(
                f"--spec {path}: devices[{i}] is line {device['line']} to CPU {device['cpu']}, but the "
                f"run has lines 0..{ext_lines - 1} and CPUs 0..{ncpu - 1}"
            )
    for key in ("victim",):
        if data.get(key) is not None and data[key] >= ncpu:
            raise SpecError(f"--spec {path}: {key} is CPU {data[key]}, but the run has CPUs 0..{ncpu - 1}")
    if data.get("victim") is not None:
        for i, thread in enumerate(data["threads"]):
            for j, op in enumerate(thread["ops"]):
                if op[0] == "desched" and op[1] == data["victim"]:
                    raise SpecError(
                        f"--spec {path}: threads[{i}].ops[{j}] deschedules on CPU {op[1]}, the victim "
                        f"that stops: its pawn would never end"
                    )
    if data.get("deaf") and data["deaf"][0] >= ncpu:
        raise SpecError(f"--spec {path}: deaf is CPU {data['deaf'][0]}, but the run has CPUs 0..{ncpu - 1}")
    for q in range(N_QUEUES):
        gives = sum(op == ["v", q] for t in data["threads"] for op in t["ops"])
        takes = sum(op == ["p", q] for t in data["threads"] for op in t["ops"])
        if takes > gives:
            raise SpecError(
                f"--spec {path}: queue {q} is taken from {takes} times but given {gives} tickets: its "
                f"consumers would wait forever"
            )
    return data, hashlib.sha256(raw).hexdigest()
