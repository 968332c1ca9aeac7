"""How well scores separate two kinds of files: the figures ``evaluate`` and ``policy`` print.

Everything is computed by scikit-learn's metrics (ROC AUC, average precision,
the ROC curve, the confusion matrix, calibration bins); this module only picks
thresholds from them and adds bootstrap intervals. Marks are 1 for unsafe
(nsfw), 0 for safe; scores are in 0..1, higher meaning more likely unsafe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve

BOOTSTRAP_ROUNDS = 1000
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class AtThreshold:
    """What a decision at ``threshold`` (score >= threshold is unsafe) gets right and wrong."""

    threshold: float
    true_negatives: int
    false_positives: int
    false_negatives: int
    true_positives: int

    @property
    def recall(self) -> float | None:
        """Share of the unsafe files flagged; None without unsafe files."""
        positives = self.true_positives + self.false_negatives
        return self.true_positives / positives if positives else None

    @property
    def false_positive_rate(self) -> float | None:
        """Share of the safe files flagged; None without safe files."""
        negatives = self.true_negatives + self.false_positives
        return self.false_positives / negatives if negatives else None

    @property
    def accuracy(self) -> float:
        total = self.true_negatives + self.false_positives + self.false_negatives + self.true_positives
        return (self.true_negatives + self.true_positives) / total if total else 0.0

    @property
    def balanced_accuracy(self) -> float | None:
        """Mean of recall and 1 - false-positive rate: a few unsafe files among many safe ones
        weigh as much as the safe ones. None unless both kinds are there."""
        if self.recall is None or self.false_positive_rate is None:
            return None
        return (self.recall + 1 - self.false_positive_rate) / 2

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recall": self.recall, "false_positive_rate": self.false_positive_rate,
                "accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy}


@dataclass(frozen=True)
class Report:
    """The figures of one set of scores against the marks."""

    unsafe: int
    safe: int
    roc_auc: float
    roc_auc_interval: tuple[float, float]  # bootstrap 95% interval
    average_precision: float
    average_precision_interval: tuple[float, float]
    at_threshold: AtThreshold
    expected_calibration_error: float
    target: str | None = None  # "recall 0.95" or "false-positive rate 0.01"
    target_threshold: float | None = None  # the threshold that reaches the target
    at_target: AtThreshold | None = None

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        figures["at_threshold"] = self.at_threshold.as_dict()
        figures["at_target"] = self.at_target.as_dict() if self.at_target else None
        return figures


def at_threshold(marks: Any, scores: Any, threshold: float) -> AtThreshold:
    marks, scores = _checked(marks, scores)
    matrix = confusion_matrix(marks, scores >= threshold, labels=[0, 1])
    (tn, fp), (fn, tp) = matrix.tolist()
    return AtThreshold(threshold, tn, fp, fn, tp)


def threshold_for_recall(marks: Any, scores: Any, recall: float) -> float:
    """The highest threshold that flags at least ``recall`` of the unsafe files: the fewest
    false positives for that recall."""
    _, true_positive_rates, thresholds = _roc(marks, scores)
    reached = np.flatnonzero(true_positive_rates >= recall)[0]
    return _finite(thresholds[reached])


def threshold_for_false_positive_rate(marks: Any, scores: Any, rate: float) -> float:
    """The lowest threshold whose false-positive rate stays within ``rate``: the most unsafe
    files flagged at that cost."""
    false_positive_rates, _, thresholds = _roc(marks, scores)
    within = np.flatnonzero(false_positive_rates <= rate)[-1]
    return _finite(thresholds[within])


def expected_calibration_error(marks: Any, scores: Any, bins: int = CALIBRATION_BINS) -> float:
    """Mean gap between the share of unsafe files and the mean score, over equal-width score
    bins, weighted by the files in each bin (0 for perfectly calibrated scores)."""
    marks, scores = _checked(marks, scores)
    share_unsafe, mean_score = calibration_curve(marks, scores, n_bins=bins, strategy="uniform")
    # calibration_curve leaves out empty bins; the same binning gives the files per bin.
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.abs(share_unsafe - mean_score)) / len(scores))


def bootstrap_interval(metric, marks: Any, scores: Any, *, rounds: int = BOOTSTRAP_ROUNDS,
                       seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ``metric(marks, scores)`` over resamplings of the files with
    replacement; resamples holding only one kind of file are skipped."""
    marks, scores = _checked(marks, scores)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        picked = rng.integers(0, len(marks), len(marks))
        if marks[picked].min() != marks[picked].max():
            values.append(metric(marks[picked], scores[picked]))
    if not values:
        return (float("nan"), float("nan"))
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def evaluate(marks: Any, scores: Any, threshold: float, *, target_recall: float | None = None,
             target_false_positive_rate: float | None = None,
             rounds: int = BOOTSTRAP_ROUNDS) -> Report:
    """Every figure of ``scores`` against ``marks``; ValueError unless both kinds are marked."""
    marks, scores = _checked(marks, scores)
    unsafe = int(marks.sum())
    if unsafe in (0, len(marks)):
        kind = "safe" if unsafe else "unsafe"
        raise ValueError(f"there are no {kind} files among the {len(marks)} marked: the figures "
                         "need files of both kinds")
    target = target_threshold = at_target = None
    if target_recall is not None:
        target = f"recall {target_recall:g}"
        target_threshold = threshold_for_recall(marks, scores, target_recall)
    elif target_false_positive_rate is not None:
        target = f"false-positive rate {target_false_positive_rate:g}"
        target_threshold = threshold_for_false_positive_rate(marks, scores, target_false_positive_rate)
    if target_threshold is not None:
        at_target = at_threshold(marks, scores, target_threshold)
    return Report(
        unsafe=unsafe, safe=len(marks) - unsafe,
        roc_auc=float(roc_auc_score(marks, scores)),
        roc_auc_interval=bootstrap_interval(roc_auc_score, marks, scores, rounds=rounds),
        average_precision=float(average_precision_score(marks, scores)),
        average_precision_interval=bootstrap_interval(average_precision_score, marks, scores,
                                                      rounds=rounds),
        at_threshold=at_threshold(marks, scores, threshold),
        expected_calibration_error=expected_calibration_error(marks, scores),
        target=target, target_threshold=target_threshold, at_target=at_target,
    )


def _checked(marks: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    marks = np.asarray(marks, dtype=int)
    scores = np.asarray(scores, dtype=np.float64)
    if marks.shape != scores.shape or marks.ndim != 1 or not len(marks):
        raise ValueError(f"need one score per mark: {marks.shape} marks, {scores.shape} scores")
    return marks, scores


def _roc(marks: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Every threshold kept: the dropped ones may be exactly where a target is reached.
    return roc_curve(*_checked(marks, scores), drop_intermediate=False)


def _finite(threshold: float) -> float:
    # roc_curve's first threshold is +inf ("flag nothing"); as a score threshold that is above 1.
    return float(min(threshold, np.nextafter(1.0, 2.0)))
