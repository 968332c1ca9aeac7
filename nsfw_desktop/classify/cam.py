"""Class activation maps (Zhou et al. 2016, "Learning Deep Features for Discriminative
Localization") of open_nsfw, from the forward pass that gives its scores.

open_nsfw is a ResNet-50 at half width (1024 channels at the end) that ends in an
average pooling of its last feature maps, (B, 1024, 7, 7), and one fully connected
layer. Its NSFW-minus-SFW logit is therefore the pooled features times the difference of
that layer's NSFW and SFW weights, plus a bias: the same difference applied at each
position of the feature maps, before the pooling, says how much that position pushed the
picture towards NSFW. The pooled features are the picture's embedding.

``with_features`` adds the pooling's input and the pooled vector as outputs of the graph
and reads the layer's weights from its initializers. No node changes, so the scores stay
those of the published graph (a parity test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

POOLINGS = ("AveragePool", "GlobalAveragePool", "ReduceMean")
RESHAPES = ("Reshape", "Flatten", "Squeeze")  # between the pooling and the fully connected layer


@dataclass(frozen=True)
class FeatureGraph:
    model: bytes  # the serialized graph with the two extra outputs, for onnxruntime.InferenceSession
    maps: str  # output name: the last feature maps, (B, C, H, W)
    pooled: str  # output name: the pooled features, (B, C): the embedding
    weights: np.ndarray  # (C, outputs): the fully connected layer's weights, one column per output


def with_features(path: Path) -> FeatureGraph:
    """The graph of ``path`` with its last feature maps and pooled features as outputs too.

    Raises ValueError when the graph does not end in a pooling and one fully connected layer."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    made_by = {output: node for node in graph.node for output in node.output}
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    fc = _fully_connected(graph, made_by, initializers)
    pooled = fc.input[0]
    node = made_by.get(pooled)
    while node is not None and node.op_type in RESHAPES:
        node = made_by.get(node.input[0])
    if node is None or node.op_type not in POOLINGS:
        raise ValueError(f"{path} has no pooling before its last fully connected layer: "
                         "it is not a network whose class activation maps can be drawn")
    weights = numpy_helper.to_array(initializers[fc.input[1]]).astype(np.float32)
    if fc.op_type == "Gemm" and any(a.name == "transB" and a.i for a in fc.attribute):
        weights = weights.T  # Gemm keeps them as (outputs, C) then
    maps = node.input[0]
    graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                        for name in (maps, pooled))
    return FeatureGraph(model.SerializeToString(), maps, pooled, weights)


def _fully_connected(graph, made_by, initializers):
    """The MatMul or Gemm with constant weights that the graph's first output comes from."""
    node = made_by.get(graph.output[0].name)
    while node is not None:
        if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 and node.input[1] in initializers:
            return node
        node = made_by.get(node.input[0]) if node.input else None
    raise ValueError("the graph's output does not come from a fully connected layer with constant weights")


def class_maps(maps: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(B, C, H, W) feature maps and (C,) weights -> (B, H, W) maps, ReLU'd: where the picture
    pushed the score along ``direction`` (NSFW minus SFW), zero where it pushed the other way."""
    return np.maximum(np.einsum("bchw,c->bhw", np.asarray(maps, dtype=np.float32), direction), 0.0)
