"""Normalising large imports in worker processes, in order, with few batches in flight."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain
from types import TracebackType
from typing import TypeVar

from ..errors import ValidationError
from ._normalise import Compact, Result, check_region, normalise_batch, rebuild

T = TypeVar("T")
W = TypeVar("W", bound=Sized)
R = TypeVar("R")

# How much lower the workers' scheduling priority is than the caller's (see ParallelNormaliser).
WORKER_NICENESS = 5


def _init_worker(region: str | None) -> None:
    if hasattr(os, "nice"):  # Unix only
        os.nice(WORKER_NICENESS)
    normalise_batch(["+14155552671", "4155552671"], region)  # load metadata before the first batch


def _run(work: Callable[[W], R], sent: W) -> R:
    return work(sent)


class _Normalise:
    """The work of `map_compact_batches`: a batch of numbers normalised in one region."""

    def __init__(self, region: str | None) -> None:
        self.region = region

    def __call__(self, raws: Sequence[str]) -> list[Compact]:
        return normalise_batch(raws, self.region)


class ParallelNormaliser:
    """`normalise_many` over batches, spread over worker processes.

    The payload of each batch (the CSV rows, say) stays in the calling process; only the strings
    go to the workers, and compact tuples come back. At most one batch per worker and one more are
    in flight, so memory stays constant however long the input (each batch held costs an import
    ~8 MB; two per worker took SQLite's import to 285 MB of its 300). The pool starts only once
    there are more than `IN_PROCESS_NUMBERS` numbers: starting two workers takes about 0.2 s, the
    time this process needs for some 20,000 numbers, so a small file is done sooner here.
    `workers=1` always works in the calling process.

    The workers run at a lower scheduling priority (`WORKER_NICENESS`): the caller's own threads
    (an import's single database writer above all) are the pipeline's bottleneck, and on a machine
    with as many cores as workers, equal priorities would have the scheduler give the writer half
    a core. A worker still takes any time the caller leaves idle.

    Workers are started with "spawn": they inherit no database connection, lock or thread of the
    caller, and, being its direct children, they count in its `RUSAGE_CHILDREN`. Like any spawned
    process they import the caller's main module, so a script that uses this needs the usual
    `if __name__ == "__main__":` guard (console scripts have one).
    """

    IN_PROCESS_NUMBERS = 20_000

    def __init__(self, region: str | None, *, workers: int | None = None) -> None:
        self.region = check_region(region)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        if self.workers < 1:
            raise ValidationError(f"workers must be at least 1, not {self.workers}")
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParallelNormaliser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (if any started); pending batches are cancelled."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def started(self) -> bool:
        """Whether worker processes are running."""
        return self._pool is not None

    def map_batches(
        self, batches: Iterable[tuple[T, Sequence[str]]]
    ) -> Iterator[tuple[T, list[Result]]]:
        """Each batch's payload with the results for its numbers, in the order given."""
        for payload, compacts in self.map_compact_batches(batches):
            yield payload, rebuild(compacts)

    def map_compact_batches(
        self, batches: Iterable[tuple[T, Sequence[str]]]
    ) -> Iterator[tuple[T, list[Compact]]]:
        """`map_batches` with the results in their compact form: an (E.164, zone) tuple or a
        reason. For callers that go through millions: building a `Result` costs ~0.8 µs."""
        return self.map_with(_Normalise(self.region), batches)

    def map_with(
        self, work: Callable[[W], R], batches: Iterable[tuple[T, W]]
    ) -> Iterator[tuple[T, R]]:
        """Each batch's payload with `work(sent)`, in the order given, where `work` is a
        picklable callable (an instance of a module-level class, say) that normalises numbers
        with `normalise_batch` and may do more with them: in the workers, where the numbers'
        metadata is loaded, once there are enough items (`len(sent)`) for workers to pay."""
        batches = iter(batches)
        first, enough = self._peek(batches)
        if not enough:
            for payload, sent in chain(first, batches):
                yield payload, work(sent)
            return
        pool = self._start_pool()
        in_flight: deque[tuple[T, Future[R]]] = deque()
        for payload, sent in chain(first, batches):
            in_flight.append((payload, pool.submit(_run, work, sent)))
            if len(in_flight) > self.workers:
                done, future = in_flight.popleft()
                yield done, future.result()
        while in_flight:
            done, future = in_flight.popleft()
            yield done, future.result()

    def _peek(self, batches: Iterator[tuple[T, W]]) -> tuple[list[tuple[T, W]], bool]:
        """The first batches, up to just over `IN_PROCESS_NUMBERS` items, and whether there
        were that many: enough for workers to pay."""
        first: list[tuple[T, W]] = []
        if self.workers == 1:
            return first, False
        numbers = 0
        for batch in batches:
            first.append(batch)
            numbers += len(batch[1])
            if numbers > self.IN_PROCESS_NUMBERS:
                return first, True
        return first, False

    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.region,),
            )
        return self._pool
