"""The Hugging Face image-classification contract: what a request carries, what the answer is.

A request body is either the raw image bytes, or JSON
``{"inputs": "<base64>", "parameters": {"top_k": N, "function_to_apply": ...}}``
(what huggingface_hub sends when it is given parameters). The answer is a JSON
list of ``{"label", "score"}``, highest score first.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass

from nsfw_desktop.media.imaging import looks_like_image

FUNCTIONS = ("softmax", "sigmoid", "none")
DEFAULT_TOP_K = 5  # transformers' image-classification pipeline default


class BadRequest(ValueError):
    """A request the server cannot use; the message goes back to the client."""


@dataclass(frozen=True)
class Parameters:
    top_k: int = DEFAULT_TOP_K
    function_to_apply: str | None = None  # None: the model's own (softmax, or sigmoid for multi-label)


def parse(body: bytes, content_type: str | None) -> tuple[bytes, Parameters]:
    """Image bytes and parameters from a request body.

    The body is JSON when the Content-Type says so, or when there is no
    Content-Type and the body is not an image but starts like a JSON object
    (huggingface_hub sends raw image bytes without a Content-Type).
    """
    if not body:
        raise BadRequest("the request has no body: send the image bytes, or JSON with 'inputs'")
    kind = (content_type or "").split(";")[0].strip().lower()
    is_json = kind == "application/json" or (
        not kind and not looks_like_image(body[:16]) and body.lstrip()[:1] == b"{")
    if not is_json:
        return body, Parameters()
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply: send {\"inputs\": \"<base64>\"}") from None
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), str):
        raise BadRequest("the JSON body needs 'inputs': the image as a base64 string")
    return _image_from_base64(document["inputs"]), _parameters(document.get("parameters"))


def _image_from_base64(text: str) -> bytes:
    if text.startswith("data:"):  # a data URL: data:image/png;base64,....
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("'inputs' is not valid base64") from None


def _parameters(raw) -> Parameters:
    if raw is None:
        return Parameters()
    if not isinstance(raw, dict):
        raise BadRequest("'parameters' must be a JSON object")
    top_k = raw.get("top_k")
    if top_k is None:
        top_k = DEFAULT_TOP_K
    elif isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise BadRequest(f"'top_k' must be a positive whole number, not {top_k!r}")
    function = raw.get("function_to_apply")
    if function is not None and function not in FUNCTIONS:
        raise BadRequest(f"'function_to_apply' must be one of {', '.join(FUNCTIONS)}, not {function!r}")
    return Parameters(top_k=top_k, function_to_apply=function)


def answer(labels: list[str], logits: list[float], function: str, top_k: int) -> list[dict]:
    """``[{label, score}]`` for one row of logits, highest first, at most ``top_k``."""
    if function == "softmax":
        peak = max(logits)
        exps = [math.exp(x - peak) for x in logits]
        total = sum(exps)
        scores = [e / total for e in exps]
    elif function == "sigmoid":
        scores = [1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
                  for x in logits]
    else:
        scores = list(logits)
    ranked = sorted(zip(labels, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    return [{"label": label, "score": score} for label, score in ranked[:top_k]]
