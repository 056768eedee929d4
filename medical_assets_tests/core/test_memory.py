"""Freed heap pages go back to the system between chunks of work."""

import ctypes
import ctypes.util
import sys

import pytest

from medical_assets.core.memory import release_free_heap


def _anonymous_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux's")
def test_freed_blocks_below_a_live_one_are_returned_by_the_trim():
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 * 1024) for _ in range(3_000)]  # ~190 MB on the heap, below the mmap threshold
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)
    for block in blocks[:-1]:  # the last block stays: the heap's top cannot shrink past it
        libc.free(block)
    before = _anonymous_mb()
    assert release_free_heap()
    assert before - _anonymous_mb() > 100
    libc.free(blocks[-1])
