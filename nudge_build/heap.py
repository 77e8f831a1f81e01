"""Keeping Python's cyclic garbage collector off objects that live for the whole run.

A run imports ~40,000 objects (modules, classes, functions), then loads its config and lockfile,
and all of them live until the process ends. The fetch then makes short-lived objects by the
hundred thousand, and each time the collector runs its older generations it walks the long-lived
ones too, for nothing: ~70 ms of a 500-client fetch's 0.8 s (``python bench/run.py``). The render
makes as many, but measured no faster frozen, so it is left alone.
``gc.freeze()`` moves every object alive now out of the collector's sight; objects made later
are collected as usual, and ``gc.unfreeze()`` hands the others back.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Within the block, collections skip every object that existed when it began.

    If anything is frozen already (an outer block, or a program that embeds nudge-build and
    froze its own heap), the block leaves the freeze as it found it."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def skip_final_collection() -> None:
    """At exit: the interpreter's last collection walks every object only to free memory the
    operating system takes back anyway (~40 ms of a fetch). Frozen objects are not walked; the
    ones that are not in a reference cycle are still freed, and files still closed, as usual."""
    gc.freeze()
