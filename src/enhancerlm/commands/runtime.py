"""Memory tuning for long scans: glibc keeps freed blocks of the window arrays unless told otherwise."""

from __future__ import annotations

import ctypes
import ctypes.util

_LIBC_PATH = ctypes.util.find_library("c")


_LIBC = ctypes.CDLL(_LIBC_PATH) if _LIBC_PATH else None
if _LIBC is not None and not hasattr(_LIBC, "mallopt"):  # not glibc (macOS): nothing to tune
    _LIBC = None


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def return_large_blocks() -> None:
    """Have glibc give blocks of 64 kB and more back to the operating system when they are freed.

    A scan allocates and frees the same batch buffers thousands of times; glibc otherwise keeps them,
    and a long scan's resident size drifts up by a few hundred MB although nothing is retained (the
    same as MALLOC_MMAP_THRESHOLD_=65536). Called once per scan; a no-op off glibc.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 65536)


def release_free_memory() -> None:
    """Give the memory glibc holds in freed blocks back to the operating system now (malloc_trim).

    The cheap alternative to `return_large_blocks` for work that comes in large groups: once per group
    rather than on every free, so small models do not pay a page fault for every new batch buffer.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
