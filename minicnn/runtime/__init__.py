"""How the numba fast paths use the machine. Nothing here computes maths.

    threads.py    one pool of worker threads, single-threaded BLAS, and the
                  chunking of a batch into pieces (``chunk_ranges``)
    scratch.py    each worker thread's reusable buffers
    allocator.py  keeping freed large arrays in the heap for the next step (glibc)

Only choosing the numba backend changes the process (BLAS threads, the
allocator): minicnn/backend/backends.py, ``NumbaBackend``.
"""
