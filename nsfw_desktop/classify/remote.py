"""Classify through the Hugging Face image-classification contract instead of a local model.

The endpoints are Hugging Face Inference Endpoints or ``nsfw-desktop serve``:
each takes the image bytes and answers a JSON list of ``{label, score}``.
``prepare`` shrinks each frame (longest side 512 px by default, but the shorter
side never below 448 px, twice the usual 224 px model input, so a panorama keeps
its detail) and encodes it in the engine's decode workers, so uploads are small;
``prepare_file`` sends a file that needs no shrinking as its original bytes.
``predict`` sends a batch with several requests in flight and retries what can
succeed later:

- 503 (an endpoint scaling up from zero or loading its model): waits
  ``estimated_time`` when the answer gives one;
- 429 (too many requests): waits ``Retry-After``;
- 5xx gateway errors, timeouts, dropped connections and answers that are not a
  list of labels and scores: waits with exponential backoff.

(``retries``.) Each endpoint that fails rests for that wait, and the others take its
work (``endpoints``).
An image whose retry budget runs out gets a Prediction with ``error`` set, so
the scan records the reason for that file and goes on. The token goes only into
huggingface_hub's Authorization header: it is never logged, printed or put in
an error message.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from nsfw_desktop.classify.base import DEFAULT_UNSAFE_LABELS, Prediction, UnsafeLabels
from nsfw_desktop.classify.capabilities import Capabilities, of_format
from nsfw_desktop.classify.endpoints import Endpoint, Endpoints
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.classify.retries import RetryPolicy, failure_of
from nsfw_desktop.media.imaging import DecodedImage

log = logging.getLogger(__name__)

DEFAULT_MAX_SIDE = 512
MIN_SHORT_SIDE = 448  # twice the usual 224 px model input: shrinking stops there
ORIGINAL_MAX_BYTES = 8 * 2**20  # larger files are re-encoded even when they need no shrinking
DEFAULT_IN_FLIGHT = 8
_MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_UPLOAD_FORMATS = ("JPEG", "PNG")  # what prepare encodes; originals may also be WebP


class RemoteClassifier:
    """A Classifier that sends each image to one of several endpoint URLs."""

    def __init__(
        self,
        endpoints: Iterable[str],
        *,
        token: str | None = None,
        unsafe_labels: Iterable[str] = DEFAULT_UNSAFE_LABELS,
        max_side: int = DEFAULT_MAX_SIDE,
        upload_format: str = "JPEG",
        jpeg_quality: int = 90,
        in_flight: int = DEFAULT_IN_FLIGHT,
        retry: RetryPolicy | None = None,
        notify: Callable[[str], None] = log.info,
    ):
        self.urls = list(dict.fromkeys(url.strip() for url in endpoints if url.strip()))
        if not self.urls:
            raise ModelError("No endpoint URL was given.")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ModelError(f"The endpoint {url!r} is not a URL: it must start with "
                                 "http:// or https://.")
        upload_format = upload_format.upper()
        if upload_format not in _UPLOAD_FORMATS:
            raise ValueError(f"upload format must be JPEG or PNG, not {upload_format}")
        if max_side < 32 or in_flight < 1:
            raise ValueError("max_side must be at least 32 and in_flight at least 1")
        # Results carry the endpoints as their model, so switching between a local
        # model and endpoints (or to other endpoints) classifies the files again.
        self.model_id = " ".join(sorted(self.urls))
        # Decoding keeps at least twice this on each side: enough for max_side.
        self.input_size = max_side // 2
        self.max_side = max_side
        self.upload_format = upload_format
        self.jpeg_quality = jpeg_quality
        self.in_flight = in_flight
        self.retry = retry or RetryPolicy()
        self._notify = notify
        self._retrying = False  # the user was told of retries since the last answer
        self.unsafe_names = tuple(unsafe_labels)
        self._token = token
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._endpoints: Endpoints | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"RemoteClassifier({self.model_id!r}, in_flight={self.in_flight})"

    @property
    def capabilities(self) -> Capabilities:
        return of_format(None, "exact")  # scores only, whatever the endpoints run

    def load(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            from huggingface_hub import InferenceClient, is_offline_mode

            if is_offline_mode():
                raise ModelError("HF_HUB_OFFLINE is set, and it stops huggingface_hub from reaching "
                                 "any endpoint.", "Unset it to classify through --endpoint.",
                                 setting="endpoints")

            # huggingface_hub sends raw bytes without a Content-Type, which Hugging
            # Face's endpoint toolkit answers with 400; a client's headers add it, so each
            # endpoint has a client per format (originals are sent in their own format).
            self._endpoints = Endpoints([
                Endpoint(url, {fmt: InferenceClient(model=url, token=self._token,
                                                     headers={"Content-Type": mime},
                                                     timeout=self.retry.timeout)
                                for fmt, mime in _MIME_TYPES.items()})
                for url in self.urls
            ])
            self._pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="remote")

    def close(self) -> None:
        """Stop the request threads; a later ``load`` starts them again."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def prepare(self, image: Image.Image) -> bytes:
        """The image shrunk towards ``max_side`` on its longest side (the shorter side kept
        at ``MIN_SHORT_SIDE`` at least), encoded for upload."""
        size = self._upload_size(*image.size)
        if size != image.size:
            image = image.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if self.upload_format == "JPEG":
            image.save(buffer, "JPEG", quality=self.jpeg_quality)
        else:
            image.save(buffer, "PNG")
        return buffer.getvalue()

    def prepare_file(self, path: str, decoded: DecodedImage) -> list[bytes]:
        """What to upload for a decoded file: its original bytes when they need no shrinking
        and are in a format endpoints read, otherwise ``prepare`` of each frame."""
        if (len(decoded.frames) == 1 and decoded.format in _MIME_TYPES
                and self._upload_size(decoded.width, decoded.height) == (decoded.width, decoded.height)
                and os.path.getsize(path) <= ORIGINAL_MAX_BYTES):
            with open(path, "rb") as file:
                return [file.read()]
        return [self.prepare(frame) for frame in decoded.frames]

    def _upload_size(self, width: int, height: int) -> tuple[int, int]:
        scale = max(self.max_side / max(width, height), MIN_SHORT_SIDE / min(width, height))
        if scale >= 1:
            return width, height
        return max(1, round(width * scale)), max(1, round(height * scale))

    def predict(self, prepared: Sequence[bytes]) -> list[Prediction]:
        self.load()
        pool, endpoints = self._pool, self._endpoints
        assert pool is not None and endpoints is not None, "load starts both"
        futures = [pool.submit(self._classify, endpoints, data) for data in prepared]
        return [future.result() for future in futures]

    def _classify(self, endpoints: Endpoints, data: bytes) -> Prediction:
        failure = None
        for attempt in range(self.retry.attempts):
            endpoint = endpoints.acquire()
            try:
                answer = endpoint.clients[_format_of(data)].image_classification(data)
                prediction = self._prediction(answer)
            except ModelError:
                endpoints.release(endpoint)
                raise
            except Exception as exc:  # sorted out by _failure: retry, or record the reason
                failure = failure_of(exc, endpoint.url)
                if not failure.retry:
                    # The image's or the setup's fault, not a sign of a struggling endpoint.
                    endpoints.release(endpoint)
                    return Prediction(label="", nsfw_score=0.0, error=failure.reason)
                endpoints.release(endpoint, failed=True,
                                  rest=self.retry.delay(attempt, failure.wait))
                log.info("%s (attempt %d of %d)", failure.reason, attempt + 1, self.retry.attempts)
                self._tell_retrying(failure.reason)
                continue
            endpoints.release(endpoint)
            self._retrying = False
            return prediction
        assert failure is not None, "attempts >= 1, and each try that did not return failed"
        return Prediction(label="", nsfw_score=0.0,
                          error=f"gave up after {self.retry.attempts} tries: {failure.reason}")

    def _tell_retrying(self, reason: str) -> None:
        """Say once, until an answer comes, that the endpoint is being retried and for how long:
        without it a command sits silent for half a minute."""
        with self._lock:
            if self._retrying:
                return
            self._retrying = True
        self._notify(f"{reason}; retrying, for up to {self.retry.longest_wait():.0f} s and "
                     f"{self.retry.attempts} tries per file, before reporting the file as an error")

    def _prediction(self, answer) -> Prediction:
        scores = {}
        for item in answer:
            if not isinstance(item.label, str) or not isinstance(item.score, (int, float)):
                raise ValueError(f"an item without a label and a score: {item}")
            scores[item.label] = float(item.score)
        if not scores:
            raise ValueError("an empty list")
        # Labels the endpoint left out (top_k) count as zero.
        labels = UnsafeLabels(list(scores), self.unsafe_names)
        return labels.prediction([scores[label] for label in labels.labels])


def _format_of(data: bytes) -> str:
    """The upload's format from its signature, for its Content-Type."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return "PNG"
