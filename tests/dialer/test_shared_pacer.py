"""The shared pace's turns: a slot is used at its instant, or not at all."""

from __future__ import annotations

import heapq
import time

import anyio

from campaigner.dialer.pacing import TOLERANCE, SharedPacer


async def _nothing(*_: object) -> tuple[int, int]:
    return 0, 0


def test_a_slot_whose_turn_wakes_too_late_is_dropped_not_sent_late() -> None:
    """A worker short of CPU (modelled: its event loop held) wakes after its slot's instant: the
    request waits for a later slot instead of going out late, bunched with the next worker's.
    (Several later slots: on a loaded machine the wake-up for the next one may be late too.)"""

    async def test() -> None:
        pacer = SharedPacer(10, _nothing, lambda: 0, lambda: 1, _nothing)
        first = time.time() + 0.1
        later = [first + 0.2 * k for k in range(1, 11)]
        for at in (first, *later):
            heapq.heappush(pacer._slots, at)
        taken: list[float] = []

        async def take() -> None:
            await pacer.turn()
            taken.append(time.time())

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(take)
                while len(pacer._slots) == len(later) + 1:  # until the first slot is taken
                    await anyio.sleep(0)
                time.sleep(first + 2 * TOLERANCE - time.time())  # the loop busy past it
        assert taken[0] >= first + 0.2

    anyio.run(test)
