"""Several `campaigner run` workers on one PostgreSQL campaign: issue 5's acceptance figures.

Two measurements, each on a fresh PostgreSQL database with one campaign of --contacts contacts
(all due, the window open, every call delivered), against `campaigner simulate` in a process of
its own (every dial answered after 200 ms, calls ending at once, Webex Connect by default):

  - uncapped throughput with 1, 2 and 4 workers (--workers): calls per second from the first
    call the simulator received to the last, and the speed-up over one worker (target: 2 workers
    at least 1.6x one);
  - cap accuracy: 4 workers (--cap-workers) at 200 calls/s (--cap): the most calls the simulator
    received in any one-second window [t, t+1) (target: never above the cap) and the rate achieved
    (target: at least 95% of the cap).

Each worker is a real `campaigner run` process with its own webhook receiver, started together;
a run ends when every worker has exited (the campaign completed) or after --max-duration, when
the workers are stopped with SIGINT and the calls made until then are counted. The load average
is printed with each figure: on a shared machine the figures are noisy; the CPU per call of the
workers (all together), the simulator and the PostgreSQL backends of the run's database (sampled,
as in report_bench) is the steadier figure. Nothing here reaches
anything but the local simulator.

    .venv/bin/python benchmarks/scale_bench.py [--contacts 20000] [--workers 1,2,4]
        [--cap 200] [--cap-workers 4] [--only uncapped|capped] [--max-duration 120]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from dial_bench import (  # the same simulator, database and campaign as the dial benchmark
    CAMPAIGNER,
    TOKEN,
    Simulator,
    cpu_seconds,
    drop,
    free_port,
    fresh_database,
    prepare,
)
from report_bench import ServerCpu  # the CPU of the PostgreSQL backends of one database

from campaigner.db import open_database
from campaigner.model import Provider
from campaigner.simulator import max_in_any_second


def run_workers(
    args: argparse.Namespace, simulator: Simulator, workers: int, cap: float | None, logs: Path
) -> dict[str, Any]:
    """One campaign dialled by `workers` processes; what the simulator saw."""
    url, name = fresh_database("postgresql", logs)
    assert name is not None
    try:
        database = open_database(url)
        campaign = prepare(database, args.contacts, cap, Provider(args.provider))
        database.dispose()
        simulator.reset()
        environment = {
            **os.environ,
            "CAMPAIGNER_WEBHOOK_TOKEN": TOKEN,
            "CAMPAIGNER_WEBEX_SERVICE_KEY": "sim-webex-key",
            "CAMPAIGNER_WEBEX_BASE_URL": f"{simulator.url}/webex/v1",
            "CAMPAIGNER_ENABLEX_APP_ID": "sim-enablex-app",
            "CAMPAIGNER_ENABLEX_APP_KEY": "sim-enablex-key",
            "CAMPAIGNER_ENABLEX_BASE_URL": f"{simulator.url}/enablex/voice/v1",
            "CAMPAIGNER_FRACTEL_TOKEN": "sim-fractel-token",
            "CAMPAIGNER_FRACTEL_BASE_URL": f"{simulator.url}/fractel/v2",
        }
        command = [*CAMPAIGNER, "run", campaign, "--db", url.render_as_string(False)]
        simulator_before = cpu_seconds(simulator.process.pid)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_before = children.ru_utime + children.ru_stime
        with ServerCpu(name) as backends:
            processes = [
                subprocess.Popen(
                    [*command, "--log-format", "json", "--drain-timeout", "30s"],
                    env=environment,
                    stdout=(logs / f"{workers}-{cap}-{i}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
                for i in range(workers)
            ]
            deadline = time.monotonic() + args.max_duration
            for process in processes:
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    break
            stopped = [p for p in processes if p.poll() is None]
            for process in stopped:
                process.send_signal(signal.SIGINT)
            codes = [process.wait(120) for process in processes]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = {
            "workers": children.ru_utime + children.ru_stime - workers_before,
            "simulator": cpu_seconds(simulator.process.pid) - simulator_before,
            "postgresql": backends.seconds,
        }
        load = os.getloadavg()[0]
        ledger = httpx.get(f"{simulator.url}/_sim/ledger?webhooks=0", timeout=300).json()
    finally:
        drop(name)
    times = sorted(dial["received_at"] for dial in ledger["dials"] if dial["placed"])
    numbers = [dial["to"] for dial in ledger["dials"] if dial["placed"]]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "workers": workers,
        "cap": cap,
        "calls": len(times),
        "rate": (len(times) - 1) / span if span else 0.0,
        "most_in_a_second": max_in_any_second(times),
        "called_twice": len(numbers) - len(set(numbers)),
        "cut_short": bool(stopped),
        "exit_codes": codes,
        "load": load,
        "cpu": cpu,
    }


def describe(figure: dict[str, Any], single: float | None) -> str:
    cap = figure["cap"]
    words = f"{figure['workers']} worker(s), " + (f"cap {cap:g}/s" if cap else "uncapped")
    words += f": {figure['rate']:.1f} calls/s"
    if cap:
        words += f" ({figure['rate'] / cap:.1%} of the cap)"
    elif single:
        words += f" ({figure['rate'] / single:.2f}x one worker)"
    words += f", most in any second {figure['most_in_a_second']}"
    words += f", {figure['calls']:,} calls" + (
        " (cut by --max-duration)" if figure["cut_short"] else ""
    )
    words += f", numbers called twice {figure['called_twice']}, exit codes {figure['exit_codes']}"
    per_call = ", ".join(
        f"{who} {seconds * 1000 / max(1, figure['calls']):.2f}"
        for who, seconds in figure["cpu"].items()
    )
    words += f", load average {figure['load']:.1f}"
    return words + f"\n    CPU ms per call: {per_call}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts for the uncapped runs")
    parser.add_argument("--cap", type=float, default=200.0)
    parser.add_argument("--cap-workers", type=int, default=4)
    parser.add_argument("--only", choices=["uncapped", "capped"])
    parser.add_argument("--provider", choices=[p.value for p in Provider], default="webex")
    parser.add_argument("--max-duration", type=float, default=120.0)
    parser.add_argument("--logs", metavar="DIR", help="keep each worker's output here")
    args = parser.parse_args()
    simulator = Simulator(free_port())
    try:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as workdir:
            logs = Path(args.logs or workdir)
            logs.mkdir(parents=True, exist_ok=True)
            print(f"{args.contacts:,} contacts, {args.provider}, PostgreSQL", flush=True)
            single: float | None = None
            if args.only != "capped":
                for count in (int(n) for n in args.workers.split(",")):
                    figure = run_workers(args, simulator, count, None, logs)
                    single = single or (figure["rate"] if count == 1 else None)
                    print(describe(figure, single), flush=True)
            if args.only != "uncapped":
                figure = run_workers(args, simulator, args.cap_workers, args.cap, logs)
                print(describe(figure, None), flush=True)
    finally:
        simulator.stop()


if __name__ == "__main__":
    sys.exit(main())
