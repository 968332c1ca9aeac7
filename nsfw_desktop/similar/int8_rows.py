"""Int8 rows and their dot products with a query, for find similar's candidates.

A vector is stored as int8 codes ``round(v * 127 / max|v|)`` and a float32 scale
``max|u| / 127`` of its unit vector ``u``, so ``codes * scale`` is ``u`` to within
half a step. Each row is quantised on its own: rows appended later never change
the others' codes.

The rows are kept in blocks of ``BLOCK``, each transposed (``[dim, BLOCK]``: the
codes of one dimension for 4,096 rows, one page), because ONNX Runtime's
``MatMulInteger`` is fast with the big matrix as its right operand and an
unsigned left one: the query, as uint8 around a zero point, times the int8
blocks, int32 sums. Measured at 1,000,000 x 768 on a 2-core EPYC, alternating:
44 ms a query, against 117 ms with the rows as the left operand (one output
column: most of the kernel's lanes idle) and 1.3 s with an int8 query (no fast
kernel). The query has 7 bits (-63..63, +64): x86 processors without VNNI
multiply uint8 by int8 in pairs summed to int16, which 8 bits could overflow.
NumPy has no fast int8 product; torch's (``_weight_int8pack_mm``) is private.
"""

from __future__ import annotations

import threading

import numpy as np

CODE_DTYPE = np.dtype("i1")
SCALE_DTYPE = np.dtype("<f4")
LEVELS = 127  # symmetric: -127..127, so a code's negation is a code
QUERY_LEVELS = 63  # 7 bits, see above
QUERY_ZERO = 64  # the zero point of the uint8 query, also in MATMUL_INTEGER
BLOCK = 4096  # rows a block
ERROR_SIGMAS = 5  # how many standard deviations of rounding error a candidate may be off

# The ONNX model of one MatMulInteger, query uint8 [1, d] (zero point 64) x blocks int8
# [b, d, n] -> sums int32 [b, 1, n] (IR 7, opset 13: any ONNX Runtime since 1.8 reads it),
# as onnx.helper writes it (tests/test_int8_rows.py builds it again and compares). Kept as
# bytes because importing onnx costs 0.7 s of the first query (its ml_dtypes extension).
MATMUL_INTEGER = (
    b'\x08\x07:\x9a\x01\n*\n\x05query\n\x06blocks\n\x04zero\x12\x04sums"\rMatMulInteger\x12\x06scor'
    b'es*\x0b\x10\x02*\x01@B\x04zeroZ\x18\n\x05query\x12\x0f\n\r\x08\x02\x12\t\n\x02\x08\x01\n\x03'
    b'\x12\x01dZ\x1f\n\x06blocks\x12\x15\n\x13\x08\x03\x12\x0f\n\x03\x12\x01b\n\x03\x12\x01d\n\x03'
    b'\x12\x01nb\x1c\n\x04sums\x12\x14\n\x12\x08\x06\x12\x0e\n\x03\x12\x01b\n\x02\x08\x01\n\x03\x12'
    b'\x01nB\x04\n\x00\x10\r')

_session = None  # one ONNX Runtime session for the process, made on the first query
_session_lock = threading.Lock()


def quantize(vectors: np.ndarray, levels: int = LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scales) of the rows of ``vectors``; a zero row gets zero codes.

    Components that are not finite (a broken model's output) become 0: int8 cannot hold
    them, and the exact ranking afterwards uses the stored vector anyway."""
    vectors = np.nan_to_num(np.array(vectors, dtype=np.float32, ndmin=2), nan=0.0, posinf=0.0,
                            neginf=0.0)
    peaks = np.abs(vectors).max(axis=1, initial=0.0)  # initial: no rows, or rows of no size
    # einsum sums the squares row by row without a temporary matrix.
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    nonzero = peaks > 0
    factors = np.divide(levels, peaks, out=np.zeros_like(peaks), where=nonzero)
    codes = np.rint(vectors * factors[:, None]).astype(CODE_DTYPE)
    scales = np.divide(peaks, norms * levels, out=np.zeros_like(peaks), where=nonzero)
    return codes, scales.astype(SCALE_DTYPE)


def scores(blocks: np.ndarray, scales: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarities (float32, to within ``margin``) of ``query`` to the rows in ``blocks``
    (int8 [b, dim, BLOCK], C-contiguous) with their ``scales``, one a row of the blocks, unused
    ones included."""
    codes, scale = quantize(np.asarray(query).reshape(1, -1), QUERY_LEVELS)
    unsigned = (codes.astype(np.int16) + QUERY_ZERO).astype(np.uint8)
    sums = _matmul_integer().run(None, {"query": unsigned, "blocks": blocks})[0]
    return sums.reshape(-1) * (scales[:sums.size] * scale[0])


def margins(scales: np.ndarray, other: float, query: np.ndarray) -> np.ndarray:
    """How much lower than a row of scale ``other`` each row of ``scales`` can score in
    ``scores`` and still be more similar exactly: ``ERROR_SIGMAS`` standard deviations of
    the difference of the two rows' errors.

    Each code is off by up to half its step (its scale), evenly: a variance of step**2 / 12
    a component, and so of a dot product of unit vectors; a row's rounding and the query's
    add up, and the two rows' errors are taken as independent (the larger case)."""
    _, query_scale = quantize(np.asarray(query).reshape(1, -1), QUERY_LEVELS)
    variance = (np.square(scales, dtype=np.float64) + other ** 2 + 2 * float(query_scale[0]) ** 2) / 12
    return ERROR_SIGMAS * np.sqrt(variance)


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
