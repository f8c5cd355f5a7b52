"""Python's garbage collector while a run dials or an import loads: fewer, smaller collections.

Both make and drop thousands of objects a call or a row (requests, answers, rows, tuples), nearly
all freed by reference counting as soon as they are done with; the cyclic collector still counts
them, runs every 700 of them by default, and every tenth young collection walks the middle
generation, up to every hundredth the whole heap, modules and SQLAlchemy's tables and compiled
statements included. For the length of the work, the objects made before it are left out of
collections (`gc.freeze`) and the youngest generation waits for more objects. Measured in the
dial benchmark's dialer (5,000 calls, loaded machine): 0.19 against 0.60 s of CPU in collections;
in the import, the default threshold doubled the cost of reading the file. Full collections still
happen (the older thresholds are kept), so memory stays flat; both settings are undone at the end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0  # blocks in progress in this process (tests run several runs at once)


@contextmanager
def fewer_collections(young_threshold: int) -> Iterator[None]:
    """The settings above for the length of the block (the youngest generation collected every
    `young_threshold` objects); the outermost block sets and restores them."""
    global _depth
    _depth += 1
    thresholds = gc.get_threshold()
    if _depth == 1:
        gc.freeze()
        gc.set_threshold(young_threshold, *thresholds[1:])
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
