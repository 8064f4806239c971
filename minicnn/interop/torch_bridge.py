"""The bridge to PyTorch: a minicnn network as a torch.nn module, and back.

    module = to_torch(model)      # torch.nn.Sequential, the same function and weights
    model = from_torch(module)    # a minicnn Sequential again; weights identical, bit for bit
    save_torch(model, "model.pt", meta={"class_names": [...], ...})
    module = load_torch("model.pt")

Both networks take the *normalised* input ``Sequential.forward`` takes, float
(N, 3, 64, 64) = (pixels / 255 - mean) / std, and give logits; the loss layer
stays behind (PyTorch keeps its loss outside the module), and ``from_torch``
puts a SoftmaxCrossEntropy back at the end unless ``loss=False``. A converted
network keeps its mode: a model in eval mode gives a module in eval mode.

Layer by layer (``TO_TORCH`` and ``FROM_TORCH``):

    Conv2D           nn.Conv2d      W (F, C, k, k) is ``weight`` as it is; b is ``bias``
    BatchNorm2D      nn.BatchNorm2d gamma, beta -> weight, bias; running_mean / running_var
                                    (both the unbiased variance), eps and momentum carry over
    ReLU             nn.ReLU
    MaxPool2D        nn.MaxPool2d
    GlobalAvgPool2D  GlobalAvgPool2d (below: mean over H, W -> (N, C); torch has no
                                    module of that shape, AdaptiveAvgPool2d keeps (N, C, 1, 1))
    Flatten          nn.Flatten
    Dense            nn.Linear      W (in, out) is ``weight.T``: torch stores (out, in)
    Dropout          nn.Dropout
    Residual         ResidualBlock (below): body(x) + shortcut(x), each an nn.Sequential
                                    converted with the same table; no shortcut is the identity
    (nn.Sequential)  its children, in order;  (nn.Identity) nothing

A torch module minicnn cannot express (dilation, groups, bias-free Linear,
ceil-mode pooling, another module type) raises UnsupportedLayer naming it.

The file ``save_torch`` writes is a plain dict that ``torch.load(path,
weights_only=True)`` reads: "state_dict" (the module's tensors), "architecture"
(the minicnn architecture description as JSON text, from which ``load_torch``
rebuilds the module: no pickled code) and "meta" (JSON text: class names,
mean, std, flip_average, the input convention).
"""
import json

import numpy as np

from ..io.atomic import atomic_write
from ..layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                      ReLU, Residual, SoftmaxCrossEntropy)
from ..models import Sequential
from .converters import UnsupportedLayer, converter_for, host_parameter, require

torch = require("torch", "torch", "the PyTorch bridge")
nn = torch.nn

TORCH_FILE_FORMAT = "minicnn-torch-1"


class GlobalAvgPool2d(nn.Module):
    """minicnn's GlobalAvgPool2D in PyTorch: (N, C, H, W) -> (N, C), the mean of each map."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


class ResidualBlock(nn.Module):
    """minicnn's Residual in PyTorch: body(x) + shortcut(x); ``shortcut`` None is the identity.

    body, shortcut: nn.Sequential. Their state_dict keys ("5.body.0.weight") follow
    minicnn's parameter keys ("5.body.0.W").
    """

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


def copy_tensor(target, array):
    """Overwrite a torch parameter or buffer with a host array's values (no autograd record)."""
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def to_host(tensor):
    """A torch tensor -> a NumPy copy, on the CPU."""
    return tensor.detach().cpu().numpy().copy()


# --- minicnn -> torch: (layer, dtype, name) -> a torch module, or None for the loss --------------
# name is the layer's place, "3" or "5.body.0", for the errors of a container's layers

def conv_to_torch(layer, dtype, name):
    config = layer.config()
    module = nn.Conv2d(config["in_channels"], config["out_channels"], config["kernel_size"],
                       stride=config["stride"], padding=config["padding"],
                       bias="b" in layer.params,
                       dtype=dtype)
    copy_tensor(module.weight, host_parameter(layer, "W"))
    if "b" in layer.params:
        copy_tensor(module.bias, host_parameter(layer, "b"))
    return module


def batchnorm_to_torch(layer, dtype, name):
    config = layer.config()
    module = nn.BatchNorm2d(config["num_features"], eps=config["eps"],
                            momentum=config["momentum"], dtype=dtype)
    for torch_name, minicnn_name in (("weight", "gamma"), ("bias", "beta"),
                                     ("running_mean", "running_mean"),
                                     ("running_var", "running_var")):
        copy_tensor(getattr(module, torch_name), host_parameter(layer, minicnn_name))
    return module


def maxpool_to_torch(layer, dtype, name):
    config = layer.config()
    return nn.MaxPool2d(config["kernel_size"], stride=config["stride"])


def dense_to_torch(layer, dtype, name):
    config = layer.config()
    module = nn.Linear(config["in_features"], config["out_features"], dtype=dtype)
    copy_tensor(module.weight, host_parameter(layer, "W").T)
    copy_tensor(module.bias, host_parameter(layer, "b"))
    return module


def residual_to_torch(layer, dtype, name):
    body = nn.Sequential(*layers_to_torch(layer.body, dtype, f"{name}.body."))
    shortcut = (None if layer.shortcut is None
                else nn.Sequential(*layers_to_torch(layer.shortcut, dtype, f"{name}.shortcut.")))
    return ResidualBlock(body, shortcut)


TO_TORCH = {"Conv2D": conv_to_torch, "BatchNorm2D": batchnorm_to_torch,
            "ReLU": lambda layer, dtype, name: nn.ReLU(), "MaxPool2D": maxpool_to_torch,
            "GlobalAvgPool2D": lambda layer, dtype, name: GlobalAvgPool2d(),
            "Flatten": lambda layer, dtype, name: nn.Flatten(), "Dense": dense_to_torch,
            "Dropout": lambda layer, dtype, name: nn.Dropout(layer.config()["p"]),
            "SoftmaxCrossEntropy": lambda layer, dtype, name: None,
            "Residual": residual_to_torch}


def layers_to_torch(layers, dtype, prefix=""):
    """minicnn layers -> a list of torch modules (a container's converter calls this again)."""
    modules = []
    for index, layer in enumerate(layers):
        name = f"{prefix}{index}"
        convert = converter_for(TO_TORCH, type(layer).__name__, layer, f"layer {name}",
                                "the PyTorch bridge")
        module = convert(layer, dtype, name)
        if module is not None:
            modules.append(module)
    return modules


def to_torch(model):
    """A minicnn Sequential -> torch.nn.Sequential with the same weights, dtype and mode.

    The module computes ``model.forward`` on normalised input (logits; the loss
    layer is left out). Its dtype is that of the model's parameters (float32
    unless the model was cast). Raises UnsupportedLayer for a layer type with no converter.
    """
    parameters = list(model.params.values())
    dtype = getattr(torch, (parameters[0].dtype if parameters else model.backend.dtype).name)
    module = nn.Sequential(*layers_to_torch(model.layers, dtype))
    return module.train(model.training)


# --- torch -> minicnn: (module, path) -> a list of minicnn layers --------------------------------
# path is the module's name in the state_dict's terms: "3", or "4.0" inside a nested Sequential.

def expect_setting(module, path, name, actual, expected):
    """UnsupportedLayer unless a torch module's setting is what minicnn's layer assumes."""
    if actual != expected:
        raise UnsupportedLayer(f"module {path}, {module!r}: minicnn has no "
                               f"{type(module).__name__} with {name}={actual!r} (it supports "
                               f"{name}={expected!r} only)")


def square(module, path, name):
    """A torch int-or-pair setting (kernel_size, stride, padding) -> one int, or UnsupportedLayer."""
    value = getattr(module, name)
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or pair[0] != pair[1] or not isinstance(pair[0], int):
        raise UnsupportedLayer(f"module {path}, {module!r}: minicnn needs a square, whole-number "
                               f"{name}, got {value!r}")
    return pair[0]


def conv_from_torch(module, path):
    expect_setting(module, path, "dilation", tuple(module.dilation), (1, 1))
    expect_setting(module, path, "groups", module.groups, 1)
    expect_setting(module, path, "padding_mode", module.padding_mode, "zeros")
    layer = Conv2D(module.in_channels, module.out_channels, square(module, path, "kernel_size"),
                   stride=square(module, path, "stride"),
                   padding=square(module, path, "padding"), bias=module.bias is not None)
    layer.params["W"] = to_host(module.weight)
    if module.bias is not None:
        layer.params["b"] = to_host(module.bias)
    return [layer]


def batchnorm_from_torch(module, path):
    expect_setting(module, path, "affine", module.affine, True)
    expect_setting(module, path, "track_running_stats", module.track_running_stats, True)
    if module.momentum is None:
        raise UnsupportedLayer(f"module {path}, {module!r}: minicnn's BatchNorm2D keeps an "
                               "exponential running average; momentum=None (a cumulative "
                               "average) has no match")
    layer = BatchNorm2D(module.num_features, momentum=module.momentum, eps=module.eps)
    layer.params = {"gamma": to_host(module.weight), "beta": to_host(module.bias)}
    layer.buffers = {"running_mean": to_host(module.running_mean),
                     "running_var": to_host(module.running_var)}
    return [layer]


def maxpool_from_torch(module, path):
    expect_setting(module, path, "padding", square(module, path, "padding"), 0)
    expect_setting(module, path, "dilation", square(module, path, "dilation"), 1)
    expect_setting(module, path, "ceil_mode", module.ceil_mode, False)
    expect_setting(module, path, "return_indices", module.return_indices, False)
    return [MaxPool2D(square(module, path, "kernel_size"), stride=square(module, path, "stride"))]


def flatten_from_torch(module, path):
    expect_setting(module, path, "start_dim", module.start_dim, 1)
    expect_setting(module, path, "end_dim", module.end_dim, -1)
    return [Flatten()]


def linear_from_torch(module, path):
    if module.bias is None:
        raise UnsupportedLayer(f"module {path}, {module!r}: minicnn's Dense always has a bias; "
                               "this Linear has none")
    layer = Dense(module.in_features, module.out_features)
    layer.params["W"] = to_host(module.weight).T.copy()
    layer.params["b"] = to_host(module.bias)
    return [layer]


def sequential_from_torch(module, path):
    return layers_from_torch(module, f"{path}.")


def residual_from_torch(module, path):
    shortcut = (None if module.shortcut is None
                else layers_from_torch(module.shortcut, f"{path}.shortcut."))
    return [Residual(layers_from_torch(module.body, f"{path}.body."), shortcut)]


FROM_TORCH = {nn.Conv2d: conv_from_torch, nn.BatchNorm2d: batchnorm_from_torch,
              nn.ReLU: lambda module, path: [ReLU()], nn.MaxPool2d: maxpool_from_torch,
              GlobalAvgPool2d: lambda module, path: [GlobalAvgPool2D()],
              nn.Flatten: flatten_from_torch, nn.Linear: linear_from_torch,
              nn.Dropout: lambda module, path: [Dropout(module.p)],
              nn.Sequential: sequential_from_torch, nn.Identity: lambda module, path: [],
              ResidualBlock: residual_from_torch}


def layers_from_torch(container, prefix=""):
    """The children of a torch container -> a flat list of minicnn layers, in order."""
    layers = []
    for name, module in container.named_children():
        path = f"{prefix}{name}"
        convert = converter_for(FROM_TORCH, type(module), module, f"module {path}", "from_torch")
        layers += convert(module, path)
    return layers


def from_torch(module, backend=None, loss=True):
    """A torch module (an nn.Sequential of the modules above, or one of them) -> a minicnn Sequential.

    The weights are copied exactly and then take the backend's dtype (float32 by
    default); the mode (train / eval) follows the module. ``loss`` appends the
    SoftmaxCrossEntropy a minicnn classifier trains with.
    """
    container = module if isinstance(module, nn.Sequential) else nn.Sequential(module)
    layers = layers_from_torch(container)
    if loss:
        layers.append(SoftmaxCrossEntropy())
    model = Sequential(layers, backend=backend)
    return model.train() if module.training else model.eval()


# --- files ----------------------------------------------------------------------------------------

def save_torch(model, path, meta=None):
    """Write ``to_torch(model)``'s state_dict, the architecture and ``meta`` (JSON-able), atomically."""
    contents = {"format": TORCH_FILE_FORMAT,
                "architecture": json.dumps(model.architecture()),
                "meta": json.dumps(meta or {}),
                "state_dict": to_torch(model).state_dict()}
    atomic_write(path, lambda file: torch.save(contents, file))


def read_torch_file(path):
    """The dict ``save_torch`` wrote, read with ``weights_only=True`` (no code runs)."""
    contents = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(contents, dict) or contents.get("format") != TORCH_FILE_FORMAT:
        raise ValueError(f"{path} was not written by minicnn's save_torch (no "
                         f"format {TORCH_FILE_FORMAT!r} inside)")
    return contents


def load_torch(path):
    """The torch.nn module a ``save_torch`` file describes, with its weights, in eval mode."""
    contents = read_torch_file(path)
    architecture = Sequential.from_architecture(json.loads(contents["architecture"]),
                                                backend="numpy")
    module = to_torch(architecture)
    module.load_state_dict(contents["state_dict"])
    return module.eval()


def load_torch_meta(path):
    """The meta dict of a ``save_torch`` file (class names, mean, std, ...)."""
    return json.loads(read_torch_file(path)["meta"])
