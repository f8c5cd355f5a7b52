"""Benchmark: import a 1,000,000-row CSV into SQLite and into PostgreSQL.

    .venv/bin/python benchmarks/import_bench.py [--rows N] [--backend sqlite|postgresql|both]
                                                [--workers N] [--profile]

It writes benchmarks/data/contacts-<rows>.csv (kept, and reused while it exists) with numbers in
the notations people type: US numbers as (212) 555-0142, 212-555-0117, 212.555.0128, 2125550139,
1-212-555-0187, +1 212 555 0199 or +12125550199; UK, German, French and Australian numbers with
their country code; UK ones also as 011 44 ... (dialled from the US). About 3% of the rows are
invalid and 3% repeat an earlier number in another notation; 1,000 numbers are put on the
do-not-call list first. Every number is validated: the benchmark uses the real importer.

Each backend runs in a child process of its own, so that its peak memory is its own: a fresh SQLite
file, or a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, created and dropped here).
It prints rows per second (the `import_contacts` call, end to end: reading, validating, loading,
committing), the peak memory of the importing process tree (the importer and the worker
processes that validate numbers, as PSS so that the pages they share count once), and where the CPU
time went: the reading thread, the writer thread, the process pool's threads, the workers and, for
PostgreSQL, the server backend, and what the sampling cost: `TreeSampler` reads /proc for these.
"Cores busy" is all of that CPU time over the wall time: how well the stages overlapped, out of
the machine's cores (on a machine shared with other work, also how much of it the import got).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

DATA = REPOSITORY / "benchmarks" / "data"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SUPPRESSED = 1_000

US_AREA_CODES = (  # noqa: SIM905 (a table, easier to read as text)
    "201 202 203 205 206 207 208 212 213 214 215 216 217 219 224 225 228 229 231 234 239 240 248 "
    "251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 304 305 307 308 309 310 312 313 "
    "314 315 316 317 318 319 320 321 323 325 330 334 336 337 339 347 351 352 360 361 386 401 402 "
    "404 405 406 407 408 409 410 412 413 414 415 417 419 423 425 432 434 435 440 443 469 478 479 "
    "480 484 501 502 503 504 505 507 508 509 510 512 513 515 516 517 518 520 530 540 541 559 561 "
    "562 563 567 570 571 573 574 580 585 586 601 602 603 605 606 607 608 609 610 612 614 615 616 "
    "617 618 619 620 623 626 630 631 636 641 646 650 651 660 661 662 678 682 701 702 703 704 706 "
    "707 708 712 713 714 715 716 717 718 719 720 724 727 731 732 734 740 754 757 760 763 765 770 "
    "772 773 774 775 781 785 786 801 802 803 804 805 806 808 810 812 813 814 815 816 817 818 828 "
    "830 831 832 843 845 847 848 850 856 857 858 859 860 862 863 864 865 870 901 903 904 906 907 "
    "908 909 910 912 913 914 915 916 917 918 919 920 925 928 931 936 937 940 941 949 951 952 954 "
    "956 970 971 972 973 978 979 980 985 989"
).split()
US_FORMATS = (
    "({a}) {x}-{n}",
    "{a}-{x}-{n}",
    "{a}.{x}.{n}",
    "{a}{x}{n}",
    "1-{a}-{x}-{n}",
    "+1 {a} {x} {n}",
    "+1{a}{x}{n}",
)
INVALID = ("555-01", "n/a", "", "12345", "+1 (123) 555-0100", "2.12555E+09", "call me", "0000000")
FIRST_NAMES = ("Maria", "James", "Aisha", "Chen", "Olivia", "José", "Zoë", "Liam", "Priya", "Noah")


def us_number(rng: random.Random) -> tuple[str, str]:
    """(as written, a key that identifies the number) for a random US number."""
    area = rng.choice(US_AREA_CODES)
    exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}"
    line = f"{rng.randint(0, 9999):04d}"
    return rng.choice(US_FORMATS).format(a=area, x=exchange, n=line), f"1{area}{exchange}{line}"


def foreign_number(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(5)
    if kind == 0:
        digits = f"{rng.randint(0, 9999):04d}{rng.randint(0, 9999):04d}"
        return f"+44 20 7{digits[1:4]} {digits[4:]}", f"44207{digits[1:]}"
    if kind == 1:
        digits = f"{rng.randint(0, 9999):04d}{rng.randint(0, 9999):04d}"
        return f"011 44 20 7{digits[1:4]} {digits[4:]}", f"44207{digits[1:]}"
    if kind == 2:
        digits = f"{rng.randint(10_000_000, 99_999_999)}"
        return f"+49 30 {digits}", f"4930{digits}"
    if kind == 3:
        pairs = [f"{rng.randint(0, 99):02d}" for _ in range(4)]
        return f"+33 1 {' '.join(pairs)}", f"331{''.join(pairs)}"
    digits = f"{rng.randint(0, 999):03d}{rng.randint(0, 9999):04d}"
    return f"+61 2 9{digits[:3]} {digits[3:]}", f"6129{digits}"


def generate(path: Path, rows: int, seed: int = 2026) -> None:
    """The benchmark's CSV: see the module docstring for what is in it."""
    rng = random.Random(seed)
    recent: list[str] = []  # numbers a later row may repeat in another notation
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8", newline="") as file:
        file.write("phone,first_name,last_name,appointment,account,timezone\n")
        for row in range(1, rows + 1):
            roll = rng.random()
            if roll < 0.03:
                phone = rng.choice(INVALID)
            elif roll < 0.06 and recent:
                phone = "+" + rng.choice(recent)
            else:
                phone, key = us_number(rng) if roll < 0.85 else foreign_number(rng)
                if len(recent) < 5_000:
                    recent.append(key)
                else:
                    recent[rng.randrange(5_000)] = key
            zone = "America/Chicago" if rng.random() < 0.05 else ""
            file.write(
                f'"{phone}",{rng.choice(FIRST_NAMES)},Smith{row % 977},'
                f'"Monday November 23 at {rng.randint(8, 17)}:{rng.choice(("00", "30"))}",'
                f"A{row:07d},{zone}\n"
            )
    temporary.replace(path)


class TreeSampler:
    """Samples memory and CPU time of this process tree, and of the database server's backend.

    Memory: the proportional set size (PSS, shared pages divided among the processes sharing them)
    summed over this process and its descendants, at its peak. CPU: the most seen for each thread
    of this process, each descendant process, and each server process whose title names `server`
    (PostgreSQL puts the database name in its backends' titles).

    CPU every `interval`, memory every `pss_every` samples: the kernel walks every page of a
    process to sum its PSS, and at ten times a second that took ~3 s of CPU over a 25 s import,
    on a machine of two cores. `own_cpu_seconds` is what the sampling itself cost.
    """

    def __init__(
        self, server: str | None = None, interval: float = 0.1, pss_every: int = 5
    ) -> None:
        self.server = server
        self.interval = interval
        self.pss_every = pss_every
        self.peak_pss_kib = 0
        self.own_cpu_seconds = 0.0
        self._samples = 0
        self.ticks: dict[tuple[str, int], int] = {}  # (kind, id) -> the most CPU seen, in ticks
        self.names: dict[int, str] = {}  # thread id -> the Python thread's name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def cpu_seconds(self, kind: str) -> float:
        """CPU time of `kind`: main (this process's main thread), threads (its other threads),
        workers (its descendants) or server."""
        ticks = sum(t for (k, _), t in self.ticks.items() if k == kind)
        return ticks / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
        self.own_cpu_seconds = time.thread_time()

    def thread_seconds(self) -> dict[str, float]:
        """CPU time of this process's threads other than the main one, by thread name: "writer",
        "writes" (PostgreSQL: the loader's thread that runs the writer's COPYs) and "pool" (the
        process pool's threads)."""
        seconds: dict[str, float] = {}
        for (kind, key), ticks in self.ticks.items():
            if kind == "threads":
                name = self.names.get(key, "other")
                if name == "import-writer":
                    name = "writer"
                else:
                    name = "writes" if name.startswith("contact-writes") else "pool"
                seconds[name] = seconds.get(name, 0.0) + ticks / os.sysconf("SC_CLK_TCK")
        return seconds

    def sample(self) -> None:
        me = os.getpid()
        for thread in threading.enumerate():
            if thread.native_id is not None:
                self.names[thread.native_id] = thread.name
        for task in os.listdir(f"/proc/{me}/task"):
            self._cpu("main" if int(task) == me else "threads", int(task), f"{me}/task/{task}")
        memory = self._samples % self.pss_every == 0 or self._stop.is_set()
        self._samples += 1
        total = 0
        for pid in self._descendants(me):
            total += self._pss(pid) if memory else 0
            if pid != me:
                self._cpu("workers", pid, str(pid))
        self.peak_pss_kib = max(self.peak_pss_kib, total)
        if self.server:
            for pid in self._server_processes():
                self._cpu("server", pid, str(pid))

    def _cpu(self, kind: str, key: int, where: str) -> None:
        if kind == "threads" and threading.get_native_id() == key:
            return  # the sampler itself
        try:
            with open(f"/proc/{where}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return
        ticks = int(fields[11]) + int(fields[12])
        self.ticks[kind, key] = max(self.ticks.get((kind, key), 0), ticks)

    def _pss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as file:
                for line in file:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
        return 0

    def _descendants(self, pid: int) -> list[int]:
        found = [pid]
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            return found
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    children = [int(child) for child in file.read().split()]
            except FileNotFoundError:
                continue
            for child in children:
                found += self._descendants(child)
        return found

    def _server_processes(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as file:
                        if self.server and self.server.encode() in file.read():
                            found.append(int(entry))
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    continue
        return found


def run_backend(
    backend: str, csv_path: Path, workers: int | None, profile: bool
) -> dict[str, object]:
    """Import the file into a fresh database (in this process) and measure it."""
    from campaigner.campaigns import CampaignSettings, Message
    from campaigner.config import parse_database_url
    from campaigner.csvsource import open_csv
    from campaigner.db import open_database, upgrade
    from campaigner.importer import ImportOptions, import_contacts
    from campaigner.model import MessageKind, Provider
    from campaigner.phones import Normalised, normalise
    from campaigner.store.campaigns import create_campaign
    from campaigner.store.suppressions import add_suppressions

    with tempfile.TemporaryDirectory() as directory:
        if backend == "sqlite":
            url = str(Path(directory) / "bench.db")
            drop = None
        else:
            import psycopg
            from psycopg import sql

            name = f"campaigner_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
            drop = name
        database = open_database(parse_database_url(url), check=False)
        try:
            upgrade(database)
            settings = CampaignSettings(
                name="bench",
                provider=Provider.ENABLEX,
                caller_id="+12125550100",
                message=Message(MessageKind.TTS, "Hello {first_name}, see you {appointment}."),
                default_region="US",
                default_timezone="America/New_York",
            ).validate()
            suppressed: list[str] = []
            with open_csv(csv_path) as source:
                for record in source.records():
                    result = normalise(record.values[0], "US")
                    if isinstance(result, Normalised):
                        suppressed.append(result.e164)
                    if len(suppressed) == SUPPRESSED:
                        break
            with database.write() as connection:
                create_campaign(connection, settings)
                add_suppressions(connection, dict.fromkeys(suppressed), None, "bench")
            profiler = cProfile.Profile() if profile else None
            before = TreeSampler(drop)
            before.sample()
            with TreeSampler(drop) as sampler:
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                summary = import_contacts(
                    database,
                    "bench",
                    csv_path,
                    ImportOptions(tz_column="timezone", workers=workers),
                )
                seconds = time.perf_counter() - started
            if profiler:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        finally:
            database.dispose()
            if drop:
                with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                    admin.execute(
                        sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(drop))
                    )
        if summary.rejects_file:
            summary.rejects_file.unlink()
    cpu = {
        kind: round(sampler.cpu_seconds(kind) - before.cpu_seconds(kind), 1)
        for kind in ("main", "threads", "workers", "server")
    }
    cpu |= {name: round(value, 1) for name, value in sampler.thread_seconds().items()}
    cpu["sampler"] = round(sampler.own_cpu_seconds, 1)
    busy = sum(cpu[kind] for kind in ("main", "threads", "workers", "server"))
    return {
        "backend": backend,
        "seconds": round(seconds, 2),
        "cores_busy": round(busy / seconds, 2),
        "load_average": round(os.getloadavg()[0], 1),
        "rows_per_second": round(summary.counts.rows_read / seconds),
        "peak_memory_mb": round(sampler.peak_pss_kib / 1024),
        "cpu": cpu,
        **{key: value for key, value in summary.as_json().items() if key in COUNTS},
    }


COUNTS = ("rows_read", "imported", "duplicates", "suppressed", "rejected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile the importing process")
    parser.add_argument("--child", metavar="BACKEND", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_backend(args.child, args.csv, args.workers, args.profile)))
        return
    csv_path = DATA / f"contacts-{args.rows}.csv"
    if not csv_path.exists():
        started = time.perf_counter()
        generate(csv_path, args.rows)
        print(f"generated {csv_path} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    size = csv_path.stat().st_size
    print(f"{args.rows:,} rows, {size / 1e6:.1f} MB: {csv_path}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        command = [sys.executable, __file__, "--child", backend, "--csv", str(csv_path)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        if args.profile:
            command.append("--profile")
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        result = json.loads(output)
        cpu = result["cpu"]
        print(
            f"{backend:<10} {result['rows_per_second']:>7,} rows/s  {result['seconds']:>6}s  "
            f"peak memory {result['peak_memory_mb']} MB  CPU seconds: reading thread "
            f"{cpu['main']}, writer thread {cpu.get('writer', 0)}"
            + (f", its writes' thread {cpu['writes']}" if "writes" in cpu else "")
            + f", process pool threads "
            f"{cpu.get('pool', 0)}, workers {cpu['workers']}"
            + (f", PostgreSQL backend {cpu['server']}" if backend == "postgresql" else "")
            + f" (this benchmark's sampling: {cpu['sampler']})"
        )
        print(
            f"           {result['cores_busy']} cores busy on average (the CPU seconds above over "
            f"the wall time); load average at the end {result['load_average']}"
        )
        print("           " + ", ".join(f"{key} {result[key]:,}" for key in COUNTS))


if __name__ == "__main__":
    main()
