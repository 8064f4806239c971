"""Keep the memory of freed large arrays for the next training step (glibc only).

Every step allocates the same large arrays again: activations, their
gradients, masks. glibc serves each allocation above its mmap threshold (at
most 32 MB by default; a (64, 32, 64, 64) float32 activation is 33.5 MB)
straight from the operating system and hands it back on ``free``. The system
must then zero every page again on first touch, several times per step, and
more often at larger batch sizes, so the step time grew faster than the batch
(1.55 times linear at batch 256).

``keep_freed_memory`` raises the threshold and switches off trimming, so a
freed block stays in the process heap and the next step reuses it; batch 256
came down to 1.12 times linear (docs/performance.md, Scaling). The price: the process keeps its peak memory
after a step instead of returning it. On a C library other than glibc this
does nothing.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# larger than any array a step allocates, smaller than what a 32-bit int holds
KEEP_BELOW_BYTES = 2**30

_done = False


def keep_freed_memory():
    """Ask glibc to keep freed blocks up to KEEP_BELOW_BYTES in the heap (once per process)."""
    global _done
    if _done:
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return  # not glibc: leave the allocator alone
    mallopt(M_MMAP_THRESHOLD, KEEP_BELOW_BYTES)
    mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
