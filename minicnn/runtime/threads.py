"""How the fast paths use the cores: one pool of worker threads, and nothing else.

The obvious way to use two cores, a parallel Numba kernel (``prange``) for
im2col followed by a multi-threaded BLAS call for the matrix multiply, makes
two thread pools take turns. Each keeps its threads spinning for a while after
its part is done, so the other pool's threads wait for a core; on a busy
machine the whole step ran 20 times slower than it does now
(docs/performance.md). Instead:

* every kernel is plain serial Numba code that releases the GIL (``nogil``);
* the work is cut into chunks (a few samples each), and ``run_chunks`` hands
  them to ``THREADS`` Python threads, each taking the next free chunk and
  doing all of it, im2col, GEMM and scatter, on its own core;
* BLAS runs single-threaded (``use_one_blas_thread``, called when a numba
  backend is created, and only then): the parallelism is ours, and each GEMM
  stays with the chunk it belongs to. This holds for the whole process, so
  the small GEMMs of Dense layers also run on one core. That costs little on
  an idle machine and saves a lot on a busy one, where a 2-thread OpenBLAS
  call waits until both its threads find a free core
  (benchmarks/bench_threads.py measures it). A kernel called on its own,
  without the backend, changes nothing in the process: it runs with whatever
  BLAS threads the process has (correct, but slower if BLAS also spreads
  each chunk's GEMM over the cores).

The thread count is Numba's (``NUMBA_NUM_THREADS``, by default the number of
cores). Results never depend on which thread did a chunk: a chunk's output
goes to its own place, and sums over chunks are taken in chunk order.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

THREADS = numba.config.NUMBA_NUM_THREADS
_pool = None
_blas_limit = None


def _workers():
    """The pool, created on first use: THREADS - 1 threads, the caller is the last one."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, THREADS - 1),
                                   thread_name_prefix="minicnn-worker")
    return _pool


def use_one_blas_thread():
    """Limit BLAS to one thread in this process, from now on (idempotent)."""
    global _blas_limit
    if _blas_limit is None:
        from threadpoolctl import threadpool_limits
        _blas_limit = threadpool_limits(limits=1, user_api="blas")


def run_chunks(work, chunks):
    """Call ``work(chunk)`` for every chunk, on THREADS threads; -> the results, in chunk order.

    Each thread takes the next chunk nobody has taken yet, so a thread slowed
    down by another program on the machine simply does fewer chunks.
    """
    chunks = list(chunks)
    results = [None] * len(chunks)
    lock = threading.Lock()
    order = iter(range(len(chunks)))

    def worker():
        while True:
            with lock:
                index = next(order, None)
            if index is None:
                return
            results[index] = work(chunks[index])

    futures = [_workers().submit(worker) for _ in range(min(THREADS, len(chunks)) - 1)]
    try:
        worker()
    finally:
        for future in futures:  # also re-raises a helper's exception
            future.result()
    return results


def chunk_ranges(count, size):
    """range(count) cut into (start, stop) pieces of ``size`` (the last one may be shorter)."""
    size = max(1, size)
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def split(count, pieces_per_thread=4):
    """range(count) cut into about THREADS * pieces_per_thread (start, stop) pieces."""
    return chunk_ranges(count, -(-count // (THREADS * pieces_per_thread)))


def sum_in_order(shares):
    """[(weight share, bias share or None)] per chunk -> (weight total, bias total or None),
    added in chunk order, so the totals never depend on which thread did which chunk."""
    weight_total, bias_total = shares[0]
    for weight_share, bias_share in shares[1:]:
        weight_total += weight_share
        if bias_total is not None:
            bias_total += bias_share
    return weight_total, bias_total
