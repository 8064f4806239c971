"""write_figure: a matplotlib Figure to its file, atomically, as every figure of minicnn is written.

A figure cut short (a full disk, Ctrl-C) leaves the previous file, not half a
PNG, and a failed write names the file asked for (minicnn/io/atomic.py).
"""
import os

from ..io.atomic import atomic_write


def write_figure(figure, path, dpi):
    """``figure.savefig`` to ``path`` in the format its extension names (PNG without one)."""
    image_format = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    atomic_write(path, lambda file: figure.savefig(file, dpi=dpi, format=image_format))
