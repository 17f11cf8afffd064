"""The Markdown tables and PNG plots of ``make bench`` (from results.json's dictionary)."""

from __future__ import annotations

from pathlib import Path

from sim.reports.tables import markdown_table

__all__ = ["render_markdown", "write_plots"]

_KERNEL_LATENCY_NAMES = {
    "ipi": "lwkt_send_ipiq to the remote callback",
    "token_handoff": "remote token acquisition",
    "mplock_handoff": "MP-lock hand-off",
    "switch": "context switch",
}
_HARDWARE_LATENCY_NAMES = {
    "register_read": "register read, uncontended",
    "register_write": "register write, uncontended",
    "back_to_back_read": "back-to-back reads, cycles per access",
    "ram_read_all_cpus": "RAM read by every CPU at once, longest",
    "tx_arg_to_irq": "TX_ARG write accepted to receiver irq high",
}


def _cpus(count) -> str:
    return f"{count} CPU" if int(count) == 1 else f"{count} CPUs"


def _n(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def render_markdown(results: dict) -> str:
    sims = results["per_simulator"]
    lines = [
        "# lwkt-soc benchmark results",
        "",
        f"Machine: {results['machine']}, Python {results['python']}; simulators: "
        + ", ".join(f"{s} {v}" for s, v in results["simulators"].items())
        + ".",
        "",
    ]

    lines += ["## Throughput: the `random` workload (seed 1)", ""]
    rows = [
        [
            sim,
            r["cpus"],
            _n(r["cycles"]),
            _n(r["cycles_per_second"]),
            _n(r["transactions_per_second"]),
            _n(r["events_per_second"]),
            _n(r["wall_per_event_us"]),
            f"{100 * r.get('shared_ram_share', 0):.1f} %",
        ]
        for sim, data in sims.items()
        for r in data["throughput"]
    ]
    lines += markdown_table(
        [
            "simulator",
            "CPUs",
            "cycles",
            "cycles/s",
            "bus transactions/s",
            "kernel events/s",
            "wall us per event",
            "shared-RAM share of bus",
        ],
        rows,
    )

    lines += ["", "## Idle SoC: `smp-idle` (every core idle, 1000-cycle hardclock)", ""]
    rows = [
        [sim, r["cpus"], _n(r["cycles"]), _n(r["cycles_per_second"]), _n(r["transactions_per_second"])]
        for sim, data in sims.items()
        for r in data["idle"]
    ]
    lines += markdown_table(["simulator", "CPUs", "cycles", "cycles/s", "bus transactions/s"], rows)

    limit = results.get("limit") or {}
    if limit.get("results"):
        lines += [
            "",
            "## The simulator alone (`bench/limit.py`)",
            "",
            f"The SoC's Verilog in a bare C++ Verilator harness (-O3, nothing public, no cocotb), every port "
            f"idle, {limit['cycles']:,} clock cycles: the most any co-simulation of the design can reach on "
            "this machine. `limit_fraction`: the idle co-simulation's cycles/s (above) over that bound.",
            "",
        ]
        sims_idle = {sim: {r["cpus"]: r["cycles_per_second"] for r in d["idle"]} for sim, d in sims.items()}
        rows = []
        for r in limit["results"]:
            row = [r["cpus"], _n(r["cycles_per_second"]), _n(r["build_seconds"])]
            for sim in sims:
                fraction = results.get("limit_fraction", {}).get(sim, {}).get(str(r["cpus"]))
                row += [_n(sims_idle[sim].get(r["cpus"])), "-" if fraction is None else f"{fraction:.3f}"]
            rows.append(row)
        lines += markdown_table(
            ["CPUs", "limit cycles/s", "build s"]
            + [h for sim in sims for h in (f"{sim} idle cycles/s", f"{sim} limit_fraction")],
            rows,
        )

    lines += [
        "",
        "## Bus driver against its bound, and against a plain cocotb driver",
        "",
        "`driver_bound_fraction`: our driver's transactions/s over the rate at which the co-simulation runs "
        "the two cycles an access takes with no bus activity, one timer wake-up each (1.0: the driver "
        "costs nothing); `driver_speedup`: ours over a plain cocotb driver (target 2x).",
        "",
    ]
    rows = []
    for sim, d in sims.items():
        rates = {name: d["driver"][name]["transactions_per_second"] for name in ("baseline", "ours", "simulator_only")}
        bound = rates["ours"] / rates["simulator_only"]  # driver_bound_fraction, also in results made before it
        rows.append(
            [
                sim,
                _n(round(rates["ours"])),
                _n(round(rates["simulator_only"])),
                f"{bound:.3f}",
                _n(round(rates["baseline"])),
                f"{d['driver']['driver_speedup']:.2f}x",
                f"{rates['simulator_only'] / rates['baseline']:.2f}x",
            ]
        )
    lines += markdown_table(
        [
            "simulator",
            "ours transactions/s",
            "bound: 2-cycle wake-ups/s",
            "driver_bound_fraction",
            "baseline transactions/s",
            "driver_speedup",
            "bound on any driver's speed-up",
        ],
        rows,
    )

    lines += ["", "## Scaling: wall time per kernel event, 16 CPUs over 2 (target: nearly flat)", ""]
    lines += markdown_table(
        ["simulator", "event_cost_ratio_16_2"], [[sim, _n(d["event_cost_ratio_16_2"])] for sim, d in sims.items()]
    )

    lines += [
        "",
        "## Cost model: default (kernel execution takes cycles) against zero (target: speed ratio at most 1.5x)",
        "",
        "The same `random` workload (seed 1) under both cost models, the runs taking turns, the fastest "
        "of each kept. Speed ratio: wall time per simulated cycle, default over zero (what the model "
        "costs the co-simulation). The default model's workload also lasts more simulated cycles (the "
        "kernel's own execution), so the whole run takes longer by the wall ratio.",
        "",
    ]
    rows = [
        [
            sim,
            r["cpus"],
            f"{r['speed_ratio']:.2f}x",
            _n(r["zero"]["cycles"]),
            _n(r["default"]["cycles"]),
            f"{r['cycle_ratio']:.2f}x",
            _n(r["zero"]["wall_seconds"]),
            _n(r["default"]["wall_seconds"]),
            f"{r['wall_ratio']:.2f}x",
        ]
        for sim, data in sims.items()
        for r in data.get("cost_models", [])
    ]
    lines += markdown_table(
        [
            "simulator",
            "CPUs",
            "speed ratio",
            "cycles, zero",
            "cycles, default",
            "cycle ratio",
            "wall s, zero",
            "wall s, default",
            "wall ratio",
        ],
        rows,
    )

    lines += ["", "## Latency in cycles", "", "Hardware, through the core ports:", ""]
    first = next(iter(sims.values()), None)
    if first:
        counts = sorted(first["hardware_latency"], key=int)
        rows = [
            [label] + [_n(first["hardware_latency"][c].get(key)) for c in counts]
            for key, label in _HARDWARE_LATENCY_NAMES.items()
        ]
        lines += markdown_table(["latency"] + [_cpus(c) for c in counts], rows)
        lines += ["", "Kernel, from the runs' reports (median / p99 / max; count):", ""]
        counts = sorted(first["kernel_latency"], key=int)
        rows = []
        for kind, label in _KERNEL_LATENCY_NAMES.items():
            row = [label]
            for c in counts:
                spread = first["kernel_latency"][c].get(kind)
                row.append(
                    f"{spread['median']} / {spread['p99']} / {spread['max']}; {spread['count']}"
                    if spread and spread.get("count")
                    else "-"
                )
            rows.append(row)
        lines += markdown_table(["latency"] + [_cpus(c) for c in counts], rows)
        same = all(d["kernel_latency"] == first["kernel_latency"] for d in sims.values())
        lines += [
            "",
            "Cycle counts are properties of the design and the firmware, not of the simulator: "
            + (
                "they are identical on every simulator measured."
                if same
                else "**they differ between simulators** (a bug: report it)."
            ),
        ]

    cost = results.get("hardware_cost")
    if cost:
        from bench import hw_cost_figures

        lines += [
            "",
            f"## Hardware cost ({cost['yosys']}, cells per block)",
            "",
            hw_cost_figures.markdown_table(cost["results"]),
            "",
            hw_cost_figures.markdown_fit(cost["fits"]),
        ]
    if results.get("goals"):
        from bench.goals import markdown as goals_markdown

        lines += [
            "",
            "## Goals of the simulation-speed work (docs/benchmarks.md)",
            "",
            goals_markdown(results["goals"]).rstrip("\n"),
        ]
    return "\n".join(lines) + "\n"


def write_plots(results: dict, out: Path) -> list[Path]:
    """throughput.png (cycles and kernel events per second against CPUs) and scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sims = results["per_simulator"]
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for sim, data in sims.items():
        cpus = [r["cpus"] for r in data["throughput"]]
        axes[0].plot(cpus, [r["cycles_per_second"] for r in data["throughput"]], "o-", label=f"{sim}, random")
        axes[0].plot(
            [r["cpus"] for r in data["idle"]],
            [r["cycles_per_second"] for r in data["idle"]],
            "s--",
            label=f"{sim}, idle",
        )
        axes[1].plot(cpus, [r["events_per_second"] for r in data["throughput"]], "o-", label=sim)
    bound = (results.get("limit") or {}).get("results")
    if bound:
        axes[0].plot(
            [r["cpus"] for r in bound],
            [r["cycles_per_second"] for r in bound],
            "k:",
            label="Verilator alone (bench/limit.py)",
        )
    _style(axes[0], "simulated cycles per wall second")
    _style(axes[1], "kernel events per wall second")
    paths.append(_save(fig, out / "throughput.png"))

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for sim, data in sims.items():
        rows = [r for r in data["throughput"] if r["wall_per_event_us"]]
        ax.plot([r["cpus"] for r in rows], [r["wall_per_event_us"] for r in rows], "o-", label=sim)
    ax.set_ylabel("wall us per kernel event")
    _style(ax, "scaling of the random workload")
    paths.append(_save(fig, out / "scaling.png"))
    return paths


def _style(ax, title: str) -> None:
    """Log-log against the CPU count (1 to 32)."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("CPUs")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
