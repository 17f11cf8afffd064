"""``lwkt-soc results``: what the results database says about a campaign.

    lwkt-soc results [--db FILE] [--campaign NAME] [--commit REV|all]     Markdown on standard output
    lwkt-soc results ... --json                                           JSON on standard output
    lwkt-soc results ... --out DIR                                        DIR/results.md, results.json, results.png
    lwkt-soc results ... --history-seed S [--history-config ID]           a seed across commits
    lwkt-soc results ... --history-config ID                              a configuration across commits

The report of one revision of the sources (default: the latest recorded) holds the
pass/fail matrix by configuration; the failures grouped by signature (failed checks
and panic message, numbers left out), each with its first seed, the command that
reproduces it and, for a random workload, its shrunk workload; and the merged
functional coverage of the runs that recorded it. The PNG is the matrix, or the
trend when a history is asked for.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

from firmware.cost_model import DEFAULT_COST_MODEL
from sim.campaigns.campaign import RunSpec, config_label
from sim.contract.errors import EXIT_OK, UsageError
from sim.campaigns.results_db import ResultsDB
from sim.contract.run_options import repeat_command
from sim.reports.tables import markdown_table

__all__ = ["add_arguments", "command", "collect", "render_markdown", "write_png", "reproduce_command"]

SCHEMA = "lwkt-soc-results/1"


def add_arguments(p) -> None:
    from sim.campaigns.regress import DEFAULT_DB

    p.add_argument("--db", default=str(DEFAULT_DB), metavar="FILE", help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--campaign", metavar="NAME", help="the campaign (needed when the database holds several)")
    p.add_argument(
        "--commit",
        default="latest",
        metavar="REV",
        help="latest (default), all, or a commit or source digest (a prefix is enough)",
    )
    p.add_argument("--history-seed", type=int, metavar="S", help="the history of seed S across commits")
    p.add_argument("--history-config", metavar="ID", help="the history of a configuration (its id, as in the matrix)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--out", metavar="DIR", help="write results.md, results.json and results.png into DIR")


def command(args) -> int:
    db = ResultsDB(args.db, create=False)
    try:
        data = collect(
            db,
            campaign=args.campaign,
            commit=args.commit,
            history_seed=args.history_seed,
            history_config=args.history_config,
        )
    except sqlite3.DatabaseError as exc:  # a damaged file, or one another program changed
        raise UsageError(f"{db.path}: cannot be read ({exc})") from None
    finally:
        db.close()
    markdown = render_markdown(data)
    if args.out:
        from sim.contract.outdir import atomic_write

        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: is a file, not a folder")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "results.md", markdown)
        atomic_write(out / "results.json", json.dumps(data, indent=2) + "\n")
        png = write_png(data, out / "results.png")
        print(f"wrote {out / 'results.md'}, {out / 'results.json'}, {png}")
    if args.json:
        print(json.dumps(data, indent=2))
    elif not args.out:
        print(markdown, end="")
    return EXIT_OK


# --- queries --------------------------------------------------------------------------------------------


def _campaign(db: ResultsDB, name: str | None) -> str:
    names = [row[0] for row in db.rows("SELECT DISTINCT campaign FROM runs ORDER BY campaign")]
    if not names:
        raise UsageError(f"{db.path}: no run recorded yet")
    if name is None:
        if len(names) > 1:
            raise UsageError(f"{db.path} holds campaigns {', '.join(names)}: choose one with --campaign")
        return names[0]
    if name not in names:
        raise UsageError(f"{db.path}: no campaign {name!r}; campaigns: {', '.join(names)}")
    return name


def _revisions(db: ResultsDB, campaign: str) -> list[dict]:
    """Every revision of the campaign's sources, oldest first."""
    rows = db.rows(
        "SELECT source_digest, commit_sha, max(dirty) AS dirty, min(recorded) AS first, "
        "max(recorded) AS last, count(*) AS runs FROM runs WHERE campaign = ? "
        "GROUP BY source_digest, commit_sha ORDER BY first",
        (campaign,),
    )
    return [
        {
            "digest": r["source_digest"],
            "commit": r["commit_sha"],
            "dirty": None if r["dirty"] is None else bool(r["dirty"]),
            "label": _label(r["commit_sha"], r["dirty"], r["source_digest"]),
            "first": r["first"],
            "last": r["last"],
            "runs": r["runs"],
        }
        for r in rows
    ]


def _label(commit: str, dirty, digest: str) -> str:
    short = commit[:10] if commit != "unknown" else "unknown"
    return f"{short}+dirty.{digest[:6]}" if dirty else short


def _select(revisions: list[dict], commit: str) -> list[dict]:
    if commit == "all":
        return revisions
    if commit == "latest":
        return [max(revisions, key=lambda r: r["last"])]
    chosen = [r for r in revisions if r["commit"].startswith(commit) or r["digest"].startswith(commit)]
    if not chosen:
        raise UsageError(
            f"--commit {commit}: no run recorded for it; recorded: " + ", ".join(r["label"] for r in revisions[-10:])
        )
    return chosen


def _where(campaign: str, revisions: list[dict]) -> tuple[str, list]:
    marks = ", ".join("?" for _ in revisions)
    return f"campaign = ? AND source_digest IN ({marks})", [campaign] + [r["digest"] for r in revisions]


def collect(
    db: ResultsDB,
    *,
    campaign: str | None = None,
    commit: str = "latest",
    history_seed: int | None = None,
    history_config: str | None = None,
) -> dict:
    """Everything ``lwkt-soc results`` shows, as one JSON-ready dict."""
    name = _campaign(db, campaign)
    revisions = _revisions(db, name)
    chosen = _select(revisions, commit)
    where, params = _where(name, chosen)
    totals = {status: 0 for status in ("pass", "fail", "panic", "error")}
    for row in db.rows(f"SELECT status, count(*) FROM runs WHERE {where} GROUP BY status", params):
        totals[row[0]] = row[1]
    wall = db.rows(f"SELECT coalesce(sum(wall_seconds), 0), coalesce(sum(cycles), 0) FROM runs WHERE {where}", params)[
        0
    ]
    data = {
        "schema": SCHEMA,
        "db": str(db.path),
        "campaign": name,
        "revisions": chosen,
        "totals": {
            "runs": sum(totals.values()),
            **totals,
            "run_seconds": round(wall[0], 1),
            "simulated_cycles": wall[1],
        },
        "matrix": _matrix(db, where, params),
        "failures": _failures(db, name, where, params),
        "coverage": _coverage(db, where, params),
        "history": None,
    }
    if history_seed is not None or history_config is not None:
        data["history"] = _history(db, name, revisions, history_seed, history_config)
    return data


def _matrix(db: ResultsDB, where: str, params: list) -> list[dict]:
    rows = db.rows(
        f"SELECT config_id, configs.config, count(*) AS runs, sum(status = 'pass') AS pass, "
        f"sum(status = 'fail') AS fail, sum(status = 'panic') AS panic, sum(status = 'error') AS error, "
        f"min(CASE WHEN status != 'pass' THEN seed END) AS first_failing FROM runs JOIN configs "
        f"USING (config_id) WHERE {where} GROUP BY config_id",
        params,
    )
    result = []
    for r in rows:
        config = json.loads(r["config"])
        result.append(
            {
                "config_id": r["config_id"],
                "label": config_label(config),
                "config": config,
                "runs": r["runs"],
                "pass": r["pass"],
                "fail": r["fail"],
                "panic": r["panic"],
                "error": r["error"],
                "first_failing_seed": r["first_failing"],
            }
        )
    return sorted(result, key=lambda m: m["label"])


def reproduce_command(spec: RunSpec, out: str, spec_file: str | None = None) -> str:
    """The ``lwkt-soc run`` line that repeats ``spec`` (with a waveform), runnable as printed; for a directed
    module the runner's line, for the RTL's unit tests pytest's (from the project's folder)."""
    from sim.campaigns.revision import PROJECT_ROOT

    run = spec.run
    if run.kind == "directed":
        bug = ["--plant-bug", run.bug] if run.bug else []
        mutant = ["--source-mutant", run.source_mutant] if run.source_mutant else []
        return shlex.join(
            [sys.executable, "-m", "sim.host.runner", run.scenario, "--sim", run.sim, *bug, *mutant, "--out", out]
        )
    if run.kind == "unit":
        from sim.campaigns.hw_mutants import MUTANT_ENV, UNIT_TESTS

        mutant = f"{MUTANT_ENV}={shlex.quote(run.mutant)} " if run.mutant else ""
        pytest = shlex.join([sys.executable, "-m", "pytest", UNIT_TESTS, "-x"])
        return f"cd {shlex.quote(str(PROJECT_ROOT))} && {mutant}{pytest}"
    line = repeat_command(replace(spec.run, spec=spec_file or spec.run.spec, waves=True, out=out))
    if spec.run.scenario_modules:  # test scenarios live in the project's tests package
        line = f"PYTHONPATH={shlex.quote(str(PROJECT_ROOT))} {line}"
    return line


def _failures(db: ResultsDB, campaign: str, where: str, params: list) -> list[dict]:
    rows = db.rows(
        f"SELECT signature, status, seed, config_id, configs.config, panic, failed_checks, out_dir, "
        f"cycles FROM runs JOIN configs USING (config_id) WHERE {where} AND signature IS NOT NULL",
        params,
    )
    groups: dict[str, dict] = {}
    for r in rows:
        config = json.loads(r["config"])
        label = config_label(config)
        group = groups.setdefault(
            r["signature"],
            {"signature": json.loads(r["signature"]), "runs": 0, "configs": set(), "statuses": set(), "first": None},
        )
        group["runs"] += 1
        group["configs"].add(r["config_id"])
        group["statuses"].add(r["status"])
        key = (r["seed"], label)
        if group["first"] is None or key < group["first"][0]:
            group["first"] = (key, r, config)
    shrinks = {row["signature"]: row for row in db.rows("SELECT * FROM shrinks WHERE campaign = ?", (campaign,))}
    result = []
    for signature, g in groups.items():
        (_, r, config) = g["first"]
        spec = RunSpec.from_dict({**config, "campaign": campaign, "seed": r["seed"]})
        checks, panic = g["signature"]
        entry = {
            "checks": checks,
            "panic": panic,
            "runs": g["runs"],
            "configurations": len(g["configs"]),
            "statuses": sorted(g["statuses"]),
            "first_seed": r["seed"],
            "first_config": config_label(config),
            "first_config_id": r["config_id"],
            "panic_message": r["panic"],
            "failed_checks": json.loads(r["failed_checks"]),
            "run_folder": r["out_dir"],
            "reproduce": reproduce_command(spec, f"runs/repro/{spec.run_dir}"),
            "shrink": None,
        }
        s = shrinks.get(signature)
        if s is not None:
            entry["shrink"] = {
                "status": s["status"],
                "seed": s["seed"],
                "size_from": s["size_from"],
                "size_to": s["size_to"],
                "runs": s["runs"],
                "spec_path": s["spec_path"],
                "detail": s["detail"],
                "commit": s["commit_sha"],
            }
            if s["spec_path"]:
                found = db.rows("SELECT config FROM configs WHERE config_id = ?", (s["config_id"],))
                shrunk_config = json.loads(found[0]["config"]) if found else config
                shrunk = RunSpec.from_dict({**shrunk_config, "campaign": campaign, "seed": s["seed"]})
                entry["shrink"]["reproduce"] = reproduce_command(
                    shrunk, f"runs/repro/{shrunk.run_dir}-shrunk", s["spec_path"]
                )
        elif spec.run.scenario != "random":
            entry["shrink"] = {"status": "n/a", "detail": "only random workloads shrink"}
        result.append(entry)
    return sorted(result, key=lambda e: (-e["runs"], e["first_seed"]))


def _coverage(db: ResultsDB, where: str, params: list) -> dict | None:
    import numpy as np
    from sim.coverage.func import MODEL, reachable

    blobs = [
        row[0] for row in db.rows(f"SELECT bins FROM runs WHERE {where} AND coverage = 1 AND bins IS NOT NULL", params)
    ]
    if not blobs:
        return None
    width = max(len(b) for b in blobs)
    matrix = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in blobs), dtype=np.uint8).reshape(len(blobs), width)
    counts = np.unpackbits(matrix, axis=1, bitorder="little").sum(axis=0)
    names = db.bin_names()
    hits = {names[i]: int(n) for i, n in enumerate(counts) if n and i in names}
    open_reachable = sorted(set(reachable()) - set(hits))
    return {
        "runs": len(blobs),
        "model_bins": len(MODEL),
        "hit": len(set(hits) & set(MODEL)),
        "reachable": len(reachable()),
        "reachable_hit": len(set(hits) & set(reachable())),
        "not_hit": open_reachable,
        "runs_per_bin": dict(sorted(hits.items())),
    }


def _history(db: ResultsDB, campaign: str, revisions: list[dict], seed: int | None, config: str | None) -> dict:
    params: list = [campaign]
    clause = "campaign = ?"
    if config is not None:
        ids = [
            r[0]
            for r in db.rows(
                "SELECT DISTINCT config_id FROM runs WHERE campaign = ? AND config_id LIKE ?", (campaign, config + "%")
            )
        ]
        if not ids:
            raise UsageError(
                f"--history-config {config}: no configuration of campaign {campaign} has that id "
                f"(lwkt-soc results shows the ids in its matrix)"
            )
        if len(ids) > 1:
            raise UsageError(f"--history-config {config}: matches {len(ids)} configurations; give more of the id")
        clause += " AND config_id = ?"
        params.append(ids[0])
    if seed is not None:
        clause += " AND seed = ?"
        params.append(seed)
    rows = db.rows(
        f"SELECT source_digest, config_id, configs.config, seed, status FROM runs JOIN configs "
        f"USING (config_id) WHERE {clause}",
        params,
    )
    if not rows:
        raise UsageError(f"no run of campaign {campaign} matches the history asked for")
    order = {r["digest"]: n for n, r in enumerate(revisions)}
    per: dict[tuple, dict] = {}
    labels = {}
    for r in rows:
        labels[r["config_id"]] = config_label(json.loads(r["config"]))
        cell = per.setdefault(
            (r["source_digest"], r["config_id"]), {"runs": 0, "pass": 0, "fail": 0, "panic": 0, "error": 0, "seeds": {}}
        )
        cell["runs"] += 1
        cell[r["status"]] += 1
        if seed is not None:
            cell["seeds"][r["seed"]] = r["status"]
    points = []
    for (digest, config_id), cell in sorted(per.items(), key=lambda kv: (order.get(kv[0][0], -1), labels[kv[0][1]])):
        revision = revisions[order[digest]]
        point = {
            "revision": revision["label"],
            "commit": revision["commit"],
            "digest": digest,
            "config_id": config_id,
            "config": labels[config_id],
            "runs": cell["runs"],
            "pass": cell["pass"],
            "fail": cell["fail"],
            "panic": cell["panic"],
            "error": cell["error"],
            "pass_rate": round(cell["pass"] / cell["runs"], 4),
        }
        if seed is not None:
            point["status"] = cell["seeds"][seed]
        points.append(point)
    return {"seed": seed, "config_id": params[1] if config is not None else None, "points": points}


# --- rendering ------------------------------------------------------------------------------------------


def render_markdown(data: dict) -> str:
    t = data["totals"]
    revisions = ", ".join(r["label"] for r in data["revisions"])
    lines = [
        f"# Campaign {data['campaign']} at {revisions}",
        "",
        f"{t['runs']} runs: {t['pass']} pass, {t['fail']} fail, {t['panic']} panic, {t['error']} error; "
        f"{t['simulated_cycles']:,} simulated cycles in {t['run_seconds']:.0f} s of run time.",
        "",
        "## Pass/fail by configuration",
        "",
    ]
    lines += markdown_table(
        ["configuration", "id", "runs", "pass", "fail", "panic", "error", "first failing seed"],
        [
            [m["label"], f"`{m['config_id']}`", m["runs"], m["pass"], m["fail"], m["panic"], m["error"]]
            + ["" if m["first_failing_seed"] is None else m["first_failing_seed"]]
            for m in data["matrix"]
        ],
        align="llrrrrrr",
    )
    lines += ["", "## Failures by signature", ""]
    if not data["failures"]:
        lines.append("None.")
    for n, f in enumerate(data["failures"], 1):
        title = f["panic"] or ", ".join(f["checks"]) or "failed"
        lines += [
            f"### {n}. {title}",
            "",
            f"- {f['runs']} run(s) in {f['configurations']} configuration(s) ({', '.join(f['statuses'])}); "
            f"failed checks: {', '.join(f['checks']) or 'none'}",
            f"- first seed: {f['first_seed']} ({f['first_config']})"
            + (f"; panic: {f['panic_message']}" if f["panic_message"] else ""),
            f"- reproduce: `{f['reproduce']}`",
        ]
        if f["run_folder"]:
            lines.append(f"- run folder: `{f['run_folder']}`")
        s = f["shrink"]
        if s is None:
            lines.append("- shrink: not done (lwkt-soc regress shrinks one seed per new signature)")
        elif s["status"] == "n/a":
            lines.append(f"- shrink: n/a ({s['detail']})")
        elif s["status"] == "error":
            lines.append(f"- shrink: failed ({s['detail']})")
        else:
            lines.append(
                f"- shrunk (seed {s['seed']}): workload size {s['size_from']} -> {s['size_to']} in "
                f"{s['runs']} runs: `{s.get('reproduce', s['spec_path'])}`"
            )
        lines.append("")
    c = data["coverage"]
    lines += ["", "## Functional coverage", ""]
    if c is None:
        lines.append("Not recorded (run the campaign with coverage = true).")
    else:
        lines.append(
            f"Merged over {c['runs']} runs: {c['hit']}/{c['model_bins']} bins of sim/coverage/func.py hit "
            f"({c['reachable_hit']}/{c['reachable']} reachable)."
        )
        if c["not_hit"]:
            shown = ", ".join(f"`{b}`" for b in c["not_hit"][:40])
            more = f" and {len(c['not_hit']) - 40} more" if len(c["not_hit"]) > 40 else ""
            lines.append(f"Reachable bins not hit: {shown}{more}.")
    h = data["history"]
    if h is not None:
        what = (
            (f"seed {h['seed']}" if h["seed"] is not None else "")
            + (" of " if h["seed"] is not None and h["config_id"] else "")
            + (f"configuration `{h['config_id']}`" if h["config_id"] else "")
        )
        lines += [
            "",
            f"## History of {what}",
            "",
        ]
        one_seed = h["seed"] is not None
        lines += markdown_table(
            ["revision", "configuration", "runs", "pass", "fail", "panic", "error"] + (["status"] if one_seed else []),
            [
                [p["revision"], p["config"], p["runs"], p["pass"], p["fail"], p["panic"], p["error"]]
                + ([p["status"]] if one_seed else [])
                for p in h["points"]
            ],
            align="llrrrrr" + ("l" if one_seed else ""),
        )
    return "\n".join(lines) + "\n"


def write_png(data: dict, path: Path) -> Path:
    """The trend when there is a history, else the pass/fail matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if data["history"] is not None:
        fig = _trend(plt, data)
    else:
        fig = _matrix_figure(plt, data)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _matrix_figure(plt, data: dict):
    import numpy as np

    def row_of(c):
        text = f"{c['scenario']} faults={config_label(c).split('faults=')[1].split()[0]}"
        for key, shown in (("cost_model", "cost"), ("bug", "bug"), ("cycles", "cycles")):
            if c.get(key) and c[key] != DEFAULT_COST_MODEL:
                text += f" {shown}={Path(str(c[key])).name}"
        return text

    def column_of(c):
        return f"{c['sim']}\n{c['cpus']} cpu\nfifo {c['fifo_depth']}"

    rows = sorted({row_of(m["config"]) for m in data["matrix"]})[:60]
    columns = sorted({column_of(m["config"]) for m in data["matrix"]})[:40]
    rate = np.full((len(rows), len(columns)), np.nan)
    text = [["" for _ in columns] for _ in rows]
    for m in data["matrix"]:
        r, c = row_of(m["config"]), column_of(m["config"])
        if r in rows and c in columns:
            i, j = rows.index(r), columns.index(c)
            rate[i, j] = m["pass"] / m["runs"]
            text[i][j] = f"{m['pass']}/{m['runs']}"
    fig, ax = plt.subplots(figsize=(2 + 1.1 * len(columns), 1.2 + 0.45 * len(rows)))
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="#dddddd")
    ax.imshow(np.ma.masked_invalid(rate), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(columns)), columns, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    revisions = ", ".join(r["label"] for r in data["revisions"])
    ax.set_title(f"{data['campaign']} at {revisions}: runs passed / runs", fontsize=9)
    return fig


def _trend(plt, data: dict):
    h = data["history"]
    revisions = list(dict.fromkeys(p["revision"] for p in h["points"]))
    configs = list(dict.fromkeys(p["config"] for p in h["points"]))
    fig, ax = plt.subplots(figsize=(max(5, 1 + 0.8 * len(revisions)), 3.5))
    for config in configs[:12]:
        points = [p for p in h["points"] if p["config"] == config]
        ax.plot(
            [revisions.index(p["revision"]) for p in points],
            [100 * p["pass_rate"] for p in points],
            marker="o",
            label=config,
        )
    ax.set_xticks(range(len(revisions)), revisions, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(-5, 105)
    ax.set_ylabel("runs passed (%)")
    ax.set_title(
        f"{data['campaign']}: "
        + (f"seed {h['seed']}" if h["seed"] is not None else "configuration")
        + " across revisions",
        fontsize=9,
    )
    ax.legend(fontsize=6, loc="lower left")
    ax.grid(alpha=0.3)
    return fig
