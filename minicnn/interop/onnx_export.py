"""A minicnn classifier as an ONNX model, built with the onnx package's helper API (no PyTorch).

    export_onnx(model, "model.onnx", mean=mean, std=std, class_names=names, flip_average=True)

The file is meant for consumers that know nothing about minicnn:

    input   "pixels"  float32 (N, 3, 64, 64): RGB, channels first, values 0-255
    output  "logits"  float32 (N, classes); softmax gives the probabilities

The checkpoint's normalisation is the first three nodes of the graph,
``(pixels / 255 - mean) / std`` per channel, the same operations in the same
order as ``minicnn.data.normalize``. With ``flip_average`` the graph also does
what ``evaluate`` does: it runs the batch and its mirror image through the
network as one batch of 2N and averages each image's two rows of logits.
The class names, the input convention, mean, std and flip_average are stored
in the model's metadata_props.

Each minicnn layer becomes the ONNX operators below (``ONNX_CONVERTERS``):

    Conv2D               Conv (W is already (F, C, k, k); pads, strides)
    BatchNorm2D          BatchNormalization (inference form, with running_mean / running_var)
    ReLU                 Relu
    MaxPool2D            MaxPool (floor rounding, as minicnn)
    GlobalAvgPool2D      GlobalAveragePool, then Flatten: (N, C, 1, 1) -> (N, C)
    Flatten              Flatten(axis=1)
    Dense                Gemm: x @ W + b, with W stored (in, out) as minicnn keeps it
    Dropout              nothing: the identity at inference
    SoftmaxCrossEntropy  nothing: the loss is not part of the network; logits are the output
    Residual             its body's operators and its shortcut's (none for the identity),
                         walked with this same table, then Add

Opset 17 with IR version 8 (ONNX 1.12, 2022), which every current runtime reads.
"""
import json
from importlib import metadata

import numpy as np

from ..io.atomic import atomic_write
from ..predict.classifier import IMAGE_SIZE, check_network
from .converters import converter_for, host_parameter, require

onnx = require("onnx", "onnx", "ONNX export")

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "pixels"
OUTPUT_NAME = "logits"
INPUT_CONVENTION = ("pixels: float32 (N, 3, {size}, {size}), RGB, channels first (NCHW), values "
                    "0-255 (plain 8-bit pixel values as floats); the normalisation "
                    "(pixels / 255 - mean) / std per channel is inside the graph")
OUTPUT_CONVENTION = "logits: float32 (N, classes) in the order of class_names; softmax gives p"


class GraphBuilder:
    """The nodes and initializers (weights) of one ONNX graph, as it is built."""

    def __init__(self):
        self.nodes = []
        self.initializers = []

    def constant(self, name, array, dtype=np.float32):
        """Store ``array`` (host) as an initializer called ``name``; -> its name."""
        self.initializers.append(onnx.numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def node(self, op_type, inputs, output, **attributes):
        """Append one operator whose single output tensor is called ``output``; -> that name."""
        self.nodes.append(onnx.helper.make_node(op_type, inputs, [output], name=output,
                                                **attributes))
        return output


# --- one converter per layer type: (layer, graph, x, name) -> the name of its output ----------

def conv_nodes(layer, graph, x, name):
    inputs = [x, graph.constant(f"{name}.W", host_parameter(layer, "W"))]
    if "b" in layer.params:   # a conv followed by BatchNorm has none
        inputs.append(graph.constant(f"{name}.b", host_parameter(layer, "b")))
    config = layer.config()
    k, s, p = config["kernel_size"], config["stride"], config["padding"]
    return graph.node("Conv", inputs, f"{name}.conv", kernel_shape=[k, k], strides=[s, s],
                      pads=[p, p, p, p])


def batchnorm_nodes(layer, graph, x, name):
    inputs = [x] + [graph.constant(f"{name}.{key}", host_parameter(layer, key))
                    for key in ("gamma", "beta", "running_mean", "running_var")]
    return graph.node("BatchNormalization", inputs, f"{name}.batchnorm", epsilon=float(layer.config()["eps"]))


def relu_nodes(layer, graph, x, name):
    return graph.node("Relu", [x], f"{name}.relu")


def maxpool_nodes(layer, graph, x, name):
    config = layer.config()
    k, s = config["kernel_size"], config["stride"]
    return graph.node("MaxPool", [x], f"{name}.maxpool", kernel_shape=[k, k], strides=[s, s])


def global_avgpool_nodes(layer, graph, x, name):
    pooled = graph.node("GlobalAveragePool", [x], f"{name}.globalavgpool")
    return graph.node("Flatten", [pooled], f"{name}.flatten", axis=1)


def flatten_nodes(layer, graph, x, name):
    return graph.node("Flatten", [x], f"{name}.flatten", axis=1)


def dense_nodes(layer, graph, x, name):
    weights = graph.constant(f"{name}.W", host_parameter(layer, "W"))
    bias = graph.constant(f"{name}.b", host_parameter(layer, "b"))
    return graph.node("Gemm", [x, weights, bias], f"{name}.dense")


def no_nodes(layer, graph, x, name):
    """Dropout at inference, and the loss layer: the output is the input."""
    return x


def residual_nodes(layer, graph, x, name):
    """body(x) + shortcut(x): each branch walked with the same table, named "<i>.body.<j>"."""
    body = layers_to_onnx(layer.body, graph, x, f"{name}.body.")
    shortcut = x if layer.shortcut is None else layers_to_onnx(layer.shortcut, graph, x,
                                                               f"{name}.shortcut.")
    return graph.node("Add", [body, shortcut], f"{name}.add")


ONNX_CONVERTERS = {"Conv2D": conv_nodes, "BatchNorm2D": batchnorm_nodes, "ReLU": relu_nodes,
                   "MaxPool2D": maxpool_nodes, "GlobalAvgPool2D": global_avgpool_nodes,
                   "Flatten": flatten_nodes, "Dense": dense_nodes, "Dropout": no_nodes,
                   "SoftmaxCrossEntropy": no_nodes, "Residual": residual_nodes}


def layers_to_onnx(layers, graph, x, prefix=""):
    """Append the nodes of ``layers`` applied to tensor ``x``; -> the name of their output.

    Layer i's tensors are named "<prefix>i.<what>" ("3.W", "3.conv"), as in minicnn's
    parameter keys; a container layer calls this again with its own prefix ("5.body.").
    """
    for index, layer in enumerate(layers):
        name = f"{prefix}{index}"
        convert = converter_for(ONNX_CONVERTERS, type(layer).__name__, layer, f"layer {name}",
                                "ONNX export")
        x = convert(layer, graph, x, name)
    return x


# --- the whole model ----------------------------------------------------------------------------

def normalisation_nodes(graph, mean, std):
    """pixels 0-255 -> (pixels / 255 - mean) / std, the order of ``minicnn.data.normalize``."""
    channel_shape = (1, 3, 1, 1)
    scaled = graph.node("Div", [INPUT_NAME, graph.constant("pixel_scale", 255.0)], "scaled")
    centred = graph.node("Sub", [scaled, graph.constant("mean", np.reshape(mean, channel_shape))],
                         "centred")
    return graph.node("Div", [centred, graph.constant("std", np.reshape(std, channel_shape))],
                      "normalised")


def with_mirror_images(graph, x):
    """(N, 3, H, W) -> (2N, 3, H, W): the batch, then the batch mirrored left-right."""
    reverse = {key: graph.constant(f"mirror.{key}", [value], dtype=np.int64)
               for key, value in (("starts", -1), ("ends", np.iinfo(np.int64).min),
                                  ("axes", 3), ("steps", -1))}
    mirrored = graph.node("Slice", [x, reverse["starts"], reverse["ends"], reverse["axes"],
                                    reverse["steps"]], "mirrored")
    return graph.node("Concat", [x, mirrored], "with_mirrored", axis=0)


def average_with_mirror(graph, logits, classes):
    """(2N, classes) logits of the batch and its mirror -> (N, classes), the mean of each pair."""
    shape = graph.constant("pairs_shape", [2, -1, classes], dtype=np.int64)
    pairs = graph.node("Reshape", [logits, shape], "logit_pairs")
    return graph.node("ReduceMean", [pairs], "mean_of_pairs", axes=[0], keepdims=0)


def installed_version():
    """minicnn's version as installed (the package root is above this module in the import order)."""
    try:
        return metadata.version("minicnn")
    except metadata.PackageNotFoundError:   # run from a checkout that was never pip-installed
        return "unknown"


def onnx_model(model, mean, std, class_names, flip_average=False):
    """-> an onnx.ModelProto of ``model`` (a Sequential) on pixel input; checked by onnx.checker.

    Raises UnsupportedLayer (naming the layer) for a layer type with no converter, and
    CheckpointError if the network does not map 64x64 images to one logit per class name.
    """
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    classes = len(class_names)
    graph = GraphBuilder()
    x = normalisation_nodes(graph, mean, std)
    if flip_average:
        x = with_mirror_images(graph, x)
    logits = layers_to_onnx(model.layers, graph, x)
    check_network(model, class_names)
    if flip_average:
        logits = average_with_mirror(graph, logits, classes)
    graph.node("Identity", [logits], OUTPUT_NAME)

    tensor_type = onnx.TensorProto.FLOAT
    graph_proto = onnx.helper.make_graph(
        graph.nodes, "minicnn_classifier",
        [onnx.helper.make_tensor_value_info(INPUT_NAME, tensor_type,
                                            ["N", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [onnx.helper.make_tensor_value_info(OUTPUT_NAME, tensor_type, ["N", classes])],
        initializer=graph.initializers)
    proto = onnx.helper.make_model(graph_proto, producer_name="minicnn",
                                   producer_version=installed_version(), ir_version=IR_VERSION,
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   doc_string=f"A minicnn classifier of {classes} classes: "
                                              f"{', '.join(class_names)}.")
    onnx.helper.set_model_props(proto, {
        "class_names": json.dumps(list(class_names)),
        "input": INPUT_CONVENTION.format(size=IMAGE_SIZE),
        "output": OUTPUT_CONVENTION,
        "mean": json.dumps(mean.tolist()), "std": json.dumps(std.tolist()),
        "flip_average": json.dumps(bool(flip_average))})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, mean, std, class_names, flip_average=False):
    """Write ``onnx_model(...)`` to ``path`` atomically; -> the ModelProto.

    Nothing is written if a layer cannot be converted (UnsupportedLayer).
    """
    proto = onnx_model(model, mean, std, class_names, flip_average=flip_average)
    atomic_write(path, lambda file: file.write(proto.SerializeToString()))
    return proto


def onnxruntime_logits(path, pixels):
    """Run an exported file in onnxruntime: pixels (N, 3, 64, 64) 0-255 -> logits (N, classes)."""
    runtime = require("onnxruntime", "onnx", "running an ONNX file")
    session = runtime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(pixels, dtype=np.float32)})[0]
