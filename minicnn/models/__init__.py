"""minicnn.models: whole networks.

    sequential.py     Sequential: layers one after the other; a model (its backend, train /
                      eval, checkpoints) and itself a layer (a container)
    architectures.py  ready-made networks: the benchmarks' reference network, the VGG-style
                      ahe_network and the default ahe_resnet

    from minicnn.models import Sequential, ahe_resnet
    model = ahe_resnet(10, backend="numba", seed=0)
"""
from ..io.checkpoint import CHECKPOINT_FORMAT, build_layer, read_checkpoint, read_checkpoint_meta
from ..io.checkpoint_checks import CheckpointError
from .architectures import (AHE_ARCHITECTURES, ahe_classifier, ahe_network, ahe_resnet,
                            reference_network)
from .sequential import Sequential, layer_types

__all__ = ["Sequential", "layer_types", "CheckpointError", "CHECKPOINT_FORMAT", "build_layer",
           "read_checkpoint", "read_checkpoint_meta", "AHE_ARCHITECTURES", "ahe_classifier",
           "ahe_network", "ahe_resnet", "reference_network"]
