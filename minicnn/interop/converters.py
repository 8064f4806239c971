"""What every converter shares: the lookup in a per-layer-type table, and its errors.

Export and the PyTorch bridge walk a network the same way. Each target keeps a
table from layer type to a small converter function; a walk looks up every
layer in it, in order, and a container layer's converter walks its own layers
with the same table (that recursion is how a block of layers, such as a
residual block, becomes one entry). A layer type that is not in the table
stops the walk with ``UnsupportedLayer`` before anything is written, so there
is never half a file.
"""
import importlib


class UnsupportedLayer(TypeError):
    """A layer (or a torch module, or one of its settings) the target has no converter for."""


class MissingExtra(ImportError):
    """An optional package (onnx, onnxruntime, torch, kagglehub) is not installed."""


def require(module_name, extra, purpose):
    """Import ``module_name``, or raise MissingExtra naming the pip extra that provides it."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise MissingExtra(f"{purpose} needs the {module_name} package, which is not installed: "
                           f'pip install "minicnn[{extra}]"') from None


def converter_for(table, key, thing, where, target):
    """table[key], or UnsupportedLayer naming ``thing`` (the layer), ``where`` it sits and what
    ``target`` can convert."""
    converter = table.get(key)
    if converter is None:
        known = sorted(name if isinstance(name, str) else name.__name__ for name in table)
        raise UnsupportedLayer(f"{where}, {thing!r}: {target} has no converter for "
                               f"{type(thing).__name__} (it converts {', '.join(known)})")
    return converter


def host_parameter(layer, key):
    """A layer's parameter or buffer (``layer.params`` or ``layer.buffers``) as a host array."""
    store = layer.params if key in layer.params else layer.buffers
    return store[key] if layer.backend is None else layer.backend.to_host(store[key])
