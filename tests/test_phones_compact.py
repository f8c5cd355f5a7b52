"""`ParallelNormaliser.map_compact_batches`: the form the importer takes, the same answers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from campaigner.phones import Compact, Normalised, ParallelNormaliser, Result, normalise_many

NUMBERS = ["+1 (415) 555-2671", "", "020 7946 0018", "+44 20 7946 0018", "n/a", "(212) 555-0101"]


class EagerNormaliser(ParallelNormaliser):
    """Starts its workers for more than 10 numbers, so that the test need not make 20,000."""

    IN_PROCESS_NUMBERS = 10


def batches(count: int) -> Iterator[tuple[int, Sequence[str]]]:
    for index in range(count):
        yield index, NUMBERS[index % len(NUMBERS) :] + NUMBERS[: index % len(NUMBERS)]


def compact(result: Result) -> Compact:
    if isinstance(result, Normalised):
        return result.e164, result.timezone
    return result.reason


@pytest.mark.parametrize(("batch_count", "in_workers"), [(1, False), (12, True)])
def test_compact_results_are_the_results(batch_count: int, in_workers: bool) -> None:
    with EagerNormaliser("US", workers=2) as normaliser:
        found = list(normaliser.map_compact_batches(batches(batch_count)))
        assert normaliser.started is in_workers
    assert found == [
        (index, [compact(result) for result in normalise_many(raws, "US")])
        for index, raws in batches(batch_count)
    ]
