"""One model behind the Hugging Face image-classification contract, whatever serves the HTTP.

``serve`` (aiohttp, ``service.py``) and ``serve --ray`` (a Ray Serve replica,
``ray_replica.py``) both hold a ``Contract``: it turns a request body into model
input, logits into the answer, a refused request into a status and a message,
and checks the API key, so both servers answer with the same JSON and the same errors.
"""

from __future__ import annotations

import hmac
import io

from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.onnx import OnnxClassifier
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.video import is_video_file
from nsfw_desktop.scan.prepare import decode_and_prepare
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.server import payload

UNAUTHORIZED = "a valid API key is needed (Authorization: Bearer ...)"
BUSY = "the server is busy: try again shortly"
REFUSED = (payload.BadRequest, ImageError)  # what Contract.prepare raises for a request it cannot use
SERVED = (LocalClassifier, OnnxClassifier)  # a model on this computer, whatever runs it


class Contract:
    def __init__(self, classifier: LocalClassifier | OnnxClassifier,
                 decode_options: DecodeOptions | None = None) -> None:
        classifier.load()
        self.classifier = classifier
        self.decode_options = decode_options or DecodeOptions()
        self.labels = classifier.labels.labels
        self.default_function = "sigmoid" if classifier.sigmoid else "softmax"
        self.model_name = _public_name(classifier)

    def health(self) -> dict:
        return {"status": "ok", "model": self.model_name, "labels": self.labels}

    def prepare(self, body: bytes, content_type: str | None):
        """Parse the body, then decode and prepare like a scan does (bombs refused from the
        header); the first frame and the parameters. Raises payload.BadRequest or ImageError."""
        image, parameters = payload.parse(body, content_type)
        if is_video_file(io.BytesIO(image)):
            # One answer per picture: a video's middle frame would pass for all of it.
            raise ImageError("this is a video; serve answers for pictures. Screen videos with "
                             "nsfw-desktop scan or classify, which sample frames over the whole film")
        prepared = decode_and_prepare(io.BytesIO(image), self.classifier, self.decode_options,
                                      max_frames=1)
        return prepared.inputs[0], parameters

    def forward(self, prepared: list) -> list[list[float]]:
        return self.classifier.logits(prepared).tolist()

    def answer(self, logits: list[float], parameters: payload.Parameters) -> list[dict]:
        function = parameters.function_to_apply or self.default_function
        return payload.answer(self.labels, logits, function, parameters.top_k)


def refusal(exc: payload.BadRequest | ImageError) -> tuple[int, str, str]:
    """(status, reason, message) for a request ``Contract.prepare`` refused."""
    if isinstance(exc, payload.BadRequest):
        return 400, "bad_request", str(exc)
    return 400, "bad_image", f"bad image: {exc}"


def authorized(header: str | None, api_key: str) -> bool:
    """Whether an Authorization header carries ``Bearer <api_key>``; the scheme's case does not
    matter (RFC 7235), and the comparison takes the same time whatever the key given."""
    scheme, _, given = (header or "").strip().partition(" ")
    # Bytes that are not UTF-8 (in a header, or a key from the command line) come as the
    # surrogates of surrogateescape: encoded back to those bytes, where a strict encode raised
    # (a 500 with a traceback for "Bearer \xff").
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), api_key.encode("utf-8", "surrogateescape"))


def too_large(max_body: int) -> str:
    return f"the request body is larger than the {max_body / 2**20:.0f} MiB limit"


def too_slow(body_timeout: float) -> str:
    return (f"the request body took longer than {body_timeout:g} s to arrive (the server's "
            "--body-timeout): send it over a faster link")


def _public_name(classifier: LocalClassifier | OnnxClassifier) -> str:
    """The model id without the local folder it was loaded from: /health is open to anyone."""
    folder = str(classifier.source.folder)
    model_id = classifier.model_id
    return classifier.source.folder.name + model_id[len(folder):] if model_id.startswith(folder) else model_id
