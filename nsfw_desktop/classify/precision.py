"""Precision modes: how much agreement with the fp32 model a faster scan may give up.

- ``exact``: fp32, today's path; scores match transformers' own pipeline.
- ``balanced``: bf16 autocast where the processor computes bf16 natively (a CPU
  with AVX-512 BF16 or AMX, or a CUDA GPU, which uses fp16); fp32 elsewhere, and
  it says so, because emulated bf16 is slower than fp32.
- ``fast``: the checkpoint exported to ONNX on this computer and quantized to int8
  with ONNX Runtime (``onnx_export``), run by ``OnnxClassifier``.

A score is stored with the model id of the classifier that made it; the modes
other than exact add a suffix, so a result says how it was computed and a
change of mode classifies the files again.
"""

from __future__ import annotations

from pathlib import Path

PRECISIONS = ("exact", "balanced", "fast")
DEFAULT_PRECISION = "exact"
MODEL_ID_SUFFIX = {"exact": "", "balanced": "+balanced", "fast": "+int8"}
# Flags Linux lists in /proc/cpuinfo for native bf16 arithmetic.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def check(precision: str) -> str:
    """``precision`` if it is a known mode, else ValueError naming the modes."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return precision


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 or AMX), read from cpuinfo's flags.

    Outside Linux there is no cpuinfo to read: the answer is no, and balanced runs fp32.
    """
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return any(flag in flags for flag in NATIVE_BF16_FLAGS)
    return False


def autocast_dtype(precision: str, device: str, *, cpuinfo: Path = Path("/proc/cpuinfo")):
    """(torch dtype or None, note or None): what a local model autocasts to in ``precision``
    on ``device``, and a note for the user when balanced falls back to fp32."""
    import torch

    if precision != "balanced":
        return None, None
    if device == "cuda":
        return torch.float16, None
    if device == "cpu":
        if cpu_has_native_bf16(cpuinfo):
            return torch.bfloat16, None
        return None, ("balanced precision runs in fp32 (as exact) here: this CPU has no native "
                      "bf16 (AVX-512 BF16 or AMX), and emulated bf16 would be slower")
    return None, f"balanced precision runs in fp32 (as exact) on {device}: only CPUs and CUDA have it"
