"""Int8 rows of find similar's matrix: close to the unit vectors, and a query that needs no torch."""

import os
import subprocess
import sys

import numpy as np

from nsfw_desktop.similar.int8_rows import BLOCK, MATMUL_INTEGER, QUERY_LEVELS, margins, quantize, scores
from nsfw_desktop.store.result import Result


def test_codes_times_scale_are_the_unit_vector_to_half_a_step():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 64)).astype(np.float32) * rng.uniform(0.1, 50, (200, 1))
    codes, scales = quantize(vectors)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert codes.dtype == np.int8 and np.abs(codes).max(axis=1).min() == 127  # full range each row
    assert np.all(np.abs(codes * scales[:, None] - unit) <= scales[:, None] / 2 + 1e-7)


def test_a_zero_or_broken_vector_gets_codes_not_warnings():
    codes, scales = quantize(np.array([[0, 0, 0, 0], [np.nan, 1, np.inf, -2]], dtype=np.float32))
    assert codes.tolist() == [[0, 0, 0, 0], [0, 64, 0, -127]]
    assert scales[0] == 0 and np.isfinite(scales[1])
    for empty in (np.zeros((0, 8)), np.zeros((3, 0))):  # no rows yet; a matrix made before any row
        codes, scales = quantize(empty)
        assert codes.shape == empty.shape and scales.tolist() == [0] * len(empty)


def test_scores_rank_as_exact_cosine_similarity_does():
    rng = np.random.default_rng(1)
    count = BLOCK + 1000  # a full block and part of one: rows in the columns of transposed blocks
    vectors = rng.standard_normal((count, 96)).astype(np.float32)
    query = rng.standard_normal(96).astype(np.float32)
    codes, scales = quantize(vectors)
    blocks = np.zeros((2, 96, BLOCK), np.int8)
    blocks[0], blocks[1, :, :count - BLOCK] = codes[:BLOCK].T, codes[BLOCK:].T
    padded = np.concatenate([scales, np.zeros(2 * BLOCK - count, np.float32)])
    found = scores(blocks, padded, query)
    assert found.shape == (2 * BLOCK,) and not found[count:].any()
    exact = vectors @ query / np.linalg.norm(vectors, axis=1) / np.linalg.norm(query)
    error = np.abs(found[:count] - exact)
    # 5 standard deviations of a row's error and another's of no error of its own: one row's
    # error alone stays within.
    allowed = margins(scales, 0.0, query)
    assert error.max() > 0 and np.all(error < allowed) and allowed.max() < 0.02
    assert np.argmax(found) == np.argmax(exact)


def test_sums_are_exact_at_the_extremes():
    """7-bit query codes: pairs of products stay within int16 on processors without VNNI."""
    query = np.tile([1.0, -1.0], 48).astype(np.float32)
    rows = np.stack([query, -query, np.ones(96, np.float32)])
    codes, scales = quantize(rows)
    blocks = np.zeros((1, 96, BLOCK), np.int8)
    blocks[0, :, :3] = codes.T
    found = scores(blocks, np.pad(np.ones(3, np.float32), (0, BLOCK - 3)), query)[:3]
    sums = np.rint(found / quantize(query, QUERY_LEVELS)[1][0])  # the query's scale taken out
    assert sums.tolist() == [96 * 63 * 127, -96 * 63 * 127, 0]


def test_a_query_by_vector_imports_neither_torch_nor_onnx(tmp_path):
    """Torch's libraries alone are ~0.1 GB of a process's memory, and importing onnx takes 0.7 s."""
    path = tmp_path / "results.sqlite3"
    from nsfw_desktop.store.results import Store

    with Store(path) as store:
        store.put_many([Result(f"/{i}.jpg", "normal", 0.1, "m", 1, 1, 1, 1, 0.0,
                               embedding=np.full(8, i + 1, np.float32)) for i in range(5)])
    code = ("import sys, numpy as np\n"
            "from nsfw_desktop.similar.search import find_similar\n"
            "class Model: model_id = 'm'\n"
            f"assert find_similar({str(path)!r}, np.ones(8), Model(), top_k=2)\n"
            "print('torch' in sys.modules, 'onnx' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NSFW_DESKTOP_HOME": str(tmp_path / "home")}, check=True)
    assert done.stdout.strip() == "False False"


def test_the_kept_model_is_what_onnx_helper_writes():
    from onnx import TensorProto, checker, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["query", "blocks", "zero"], ["sums"])], "scores",
        [helper.make_tensor_value_info("query", TensorProto.UINT8, [1, "d"]),
         helper.make_tensor_value_info("blocks", TensorProto.INT8, ["b", "d", "n"])],
        [helper.make_tensor_value_info("sums", TensorProto.INT32, ["b", 1, "n"])],
        [helper.make_tensor("zero", TensorProto.UINT8, [], [64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    checker.check_model(model)
    assert model.SerializeToString() == MATMUL_INTEGER
