"""Freed heap pages go back to the system between chunks of work; large blocks do not stay on the heap."""

import ctypes
import ctypes.util
import subprocess
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


BLOCKS_AFTER_A_LARGE_FREE = """
import ctypes, ctypes.util, sys
from medical_assets.core.memory import map_large_blocks
if sys.argv[1] == "fixed":
    assert map_large_blocks()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(8 * 2**20))  # a freed 8 MB mapping: glibc raises its threshold past 8 MB
blocks = [libc.malloc(2 * 2**20) for _ in range(100)]  # 200 MB of 2 MB blocks
for block in blocks:
    ctypes.memset(block, 1, 2 * 2**20)
for block in blocks[:-1]:
    libc.free(block)
print([int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("RssAnon:")][0])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's")
def test_with_a_fixed_threshold_freed_large_blocks_leave_the_process_at_once():
    def held_mb(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", BLOCKS_AFTER_A_LARGE_FREE, mode], capture_output=True, text=True,
                             check=True)
        return int(run.stdout.strip())

    assert held_mb("glibc") - held_mb("fixed") > 150  # 198 MB freed: kept on the heap, or unmapped
