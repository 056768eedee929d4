"""Returning freed heap memory to the operating system between chunks of work, and keeping large
blocks out of the heap while it works."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 1 << 20  # blocks of this many bytes and more get their own mapping


@cache
def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def _malloc_trim():
    return getattr(_libc(), "malloc_trim", None)


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`); False where the C
    library has no such call (macOS, musl), which changes nothing else.

    Torch and the tokenizers allocate with glibc's malloc, whose arenas keep the pages of freed
    tensors of every size seen so far: embedding 8,192 prompts at a time, a process held 657 MB
    after the first chunk and 995 MB after the sixth; trimmed after each chunk it held 445 → 452 MB.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def map_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Have glibc serve every block of `threshold` bytes or more from its own mapping, given back to the
    system when freed (`mallopt(M_MMAP_THRESHOLD)`); False where the C library has no such call.

    glibc starts at 128 KB and raises its threshold to the size of each mapped block freed, up to 32 MB, so
    after the first chunk of embeddings the next chunks' activations came from the heap, where blocks of
    many sizes fragment it: a chunk of 8,192 prompts peaked at 1,081 MB, and the seventh at 1,510 MB
    (`malloc_trim` afterwards gives back only whole free pages). With a fixed 1 MB threshold the seven
    peaked at 976-985 MB. Setting the threshold also turns that raising off.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
