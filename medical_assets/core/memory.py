"""Returning freed heap memory to the operating system between chunks of work."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)


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
