"""The row types of the results database: one screened file (``Result``), and what a rescan
compares a file with (``Fingerprint``). Below the ``Store`` so that anything that only reads
rows need not know how they are kept."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


def decides_flagged(review: str | None, failed: bool, score: float | None, threshold: float) -> bool:
    """A review mark wins; otherwise the score (the policy's when there is one) against the threshold."""
    if review is not None:
        return review == "nsfw"
    return not failed and score is not None and score >= threshold


@dataclass
class Result:
    path: str
    label: str | None
    nsfw_score: float | None
    model: str
    width: int | None
    height: int | None
    file_size: int
    mtime_ns: int
    scanned_at: float
    error: str | None = None
    review: str | None = None
    missing_since: float | None = None  # seconds since the epoch; set on reviewed files found gone
    policy_score: float | None = None  # from the adopted policy of ``model``; put_many sets it
    kind: str = "image"  # or "video"
    duration: float | None = None  # a video's, in seconds
    worst_frame_time: float | None = None  # seconds into a video of its highest-scoring frame
    frames: int | None = None  # frames sampled from a video
    # a video's scored frames, (seconds, score) in time order, for the details panel's strip
    frame_scores: list[tuple[float, float]] | None = None
    # float32 vector from a scan with embeddings; put_many keeps it in the embeddings table
    embedding: Any = field(default=None, repr=False, compare=False)

    @property
    def score(self) -> float | None:
        """The score that decides: the policy's when the model has an adopted policy, else the model's."""
        return self.nsfw_score if self.policy_score is None else self.policy_score

    def flagged(self, threshold: float) -> bool:
        """A review mark wins over both scores; otherwise ``score`` >= threshold."""
        return decides_flagged(self.review, self.error is not None, self.score, threshold)

    @property
    def awaits_review(self) -> bool:
        """Scored and not yet reviewed: a file whose review mark would teach a personal policy."""
        return self.review is None and self.error is None and self.score is not None

    def review_priority(self, threshold: float) -> tuple[float, str]:
        """Sorts the files awaiting review nearest the threshold first: the marks that teach most."""
        assert self.score is not None, "only files awaiting review have a priority"
        return abs(self.score - threshold), self.path

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns / 1e9).astimezone()

    @classmethod
    def from_row(cls, row: tuple) -> Result:
        # mypy spreads a star of unknown length over every parameter left, so it counts one argument
        # too many; the row holds exactly the columns from label to frame_scores.
        return cls(os.fsdecode(row[0]), *row[1:-1], _frame_scores(row[-1]))  # type: ignore[call-arg]


def _frame_scores(text: str | None) -> list[tuple[float, float]] | None:
    return None if text is None else [(t, s) for t, s in json.loads(text)]


class Fingerprint(NamedTuple):
    file_size: int
    mtime_ns: int
    model: str
    nsfw_score: float | None
    failed: bool
    has_embedding: bool  # an embedding of the row's own model is stored
    policy_score: float | None
    review: str | None

    def flagged(self, threshold: float) -> bool:
        score = self.nsfw_score if self.policy_score is None else self.policy_score
        return decides_flagged(self.review, self.failed, score, threshold)

    def current(self, size: int, mtime_ns: int, model: str) -> bool:
        return (self.file_size, self.mtime_ns, self.model) == (size, mtime_ns, model)
