"""Int8 rows and their dot products with a query, for find similar's candidates.

A vector is stored as int8 codes ``round(v * 127 / max|v|)`` and a float32 scale
``max|u| / 127`` of its unit vector ``u``, so ``codes * scale`` is ``u`` to within
half a step. Each row is quantised on its own: rows appended later never change
the others' codes.

The products run in ONNX Runtime's ``MatMulInteger`` (int8 matrix times int8
query, int32 sums): at 1,000,000 x 768 about as fast as ``torch.mv`` in float16
with half the bytes to read, and over the memory-mapped rows where they lie.
NumPy has no fast int8 product; torch's (``_weight_int8pack_mm``) is private.
"""

from __future__ import annotations

import threading

import numpy as np

CODE_DTYPE = np.dtype("i1")
SCALE_DTYPE = np.dtype("<f4")
LEVELS = 127  # symmetric: -127..127, so a code's negation is a code

# The ONNX model of one MatMulInteger, rows int8 [n, d] x query int8 [d, 1] -> sums int32
# [n, 1] (IR 7, opset 13: any ONNX Runtime since 1.8 reads it), as onnx.helper writes it
# (tests/test_int8_rows.py builds it again and compares). Kept as bytes because importing
# onnx costs 0.7 s of the first query (its ml_dtypes extension), ONNX Runtime 0.2 s.
MATMUL_INTEGER = (
    b'\x08\x07:y\n"\n\x04rows\n\x05query\x12\x04sums"\rMatMulInteger\x12\x06scoresZ\x18\n\x04rows'
    b'\x12\x10\n\x0e\x08\x03\x12\n\n\x03\x12\x01n\n\x03\x12\x01dZ\x18\n\x05query\x12\x0f\n\r\x08\x03'
    b'\x12\t\n\x03\x12\x01d\n\x02\x08\x01b\x17\n\x04sums\x12\x0f\n\r\x08\x06\x12\t\n\x03\x12\x01n'
    b'\n\x02\x08\x01B\x04\n\x00\x10\r')

_session = None  # one ONNX Runtime session for the process, made on the first query
_session_lock = threading.Lock()


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scales) of the rows of ``vectors``; a zero row gets zero codes.

    Components that are not finite (a broken model's output) become 0: int8 cannot hold
    them, and the exact ranking afterwards uses the stored vector anyway."""
    vectors = np.nan_to_num(np.array(vectors, dtype=np.float32, ndmin=2), nan=0.0, posinf=0.0,
                            neginf=0.0)
    peaks = np.abs(vectors).max(axis=1)
    # einsum sums the squares row by row without a temporary matrix.
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    nonzero = peaks > 0
    factors = np.divide(LEVELS, peaks, out=np.zeros_like(peaks), where=nonzero)
    codes = np.rint(vectors * factors[:, None]).astype(CODE_DTYPE)
    scales = np.divide(peaks, norms * LEVELS, out=np.zeros_like(peaks), where=nonzero)
    return codes, scales.astype(SCALE_DTYPE)


def scores(codes: np.ndarray, scales: np.ndarray, query: np.ndarray) -> np.ndarray:
    """float32 dot products of the rows (``codes`` x ``scales``, C-contiguous) with
    ``query``, up to the query's own positive scale: right for ranking."""
    query_codes, _ = quantize(np.asarray(query).reshape(1, -1))
    sums = _matmul_integer().run(None, {"rows": codes, "query": query_codes.reshape(-1, 1)})[0]
    return sums[:, 0] * scales


def _matmul_integer():
    """The ONNX Runtime session of ``MATMUL_INTEGER``, made on the first query."""
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime  # lazily: a scan or the window starts without it

            options = onnxruntime.SessionOptions()
            # Between queries the threads sleep instead of spinning on the user's cores.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _session = onnxruntime.InferenceSession(MATMUL_INTEGER, options,
                                                    providers=["CPUExecutionProvider"])
        return _session
