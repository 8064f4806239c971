"""Each worker thread's reusable buffers, so a training step does not allocate
(and the kernel page-fault) the same large temporaries again and again."""
import threading

import numpy as np


class Scratch(threading.local):
    """Buffers by name, one set per thread; a buffer grows when a larger one is asked for."""

    def array(self, name, shape, dtype):
        """A C-contiguous array of ``shape``, carved from this thread's buffer ``name``."""
        buffers = self.__dict__.setdefault("buffers", {})
        key = (name, np.dtype(dtype))
        size = int(np.prod(shape))
        if key not in buffers or buffers[key].size < size:
            buffers[key] = np.empty(size, dtype=dtype)
        return buffers[key][:size].reshape(shape)

    def matrix(self, name, rows, columns, dtype):
        """A C-contiguous (rows, columns) array (see ``array``)."""
        return self.array(name, (rows, columns), dtype)


scratch = Scratch()
