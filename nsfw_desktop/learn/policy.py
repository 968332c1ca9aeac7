"""A personal policy learnt from review marks: fitted, compared with the model, adopted only if better.

The policy is a logistic regression on each reviewed file's stored CLS
embedding plus the model's own score (as log-odds), class-balanced, so that
twenty "safe" marks among two hundred "nsfw" ones still count. Before it is
adopted it is judged by k-fold cross-validation: every mark is predicted once
by a policy fitted without it, and those held-out predictions are compared with
the model's scores for the same files, at the same threshold. It is adopted
only when it decides the held-out marks clearly better (``MIN_GAIN`` of
balanced accuracy) without ranking them worse (ROC AUC); otherwise the reasons
are given, and the model's scores (or the policy adopted before) stay.

Policy scores are put on the threshold's scale: a file the class-balanced
regression finds as likely one kind as the other scores exactly the threshold
it was fitted at (its log-odds are shifted by the threshold's). A library
screened at 0.9 gets a policy whose line is at 0.9 too, and moving the
threshold later moves that line the same way.

An adopted policy is kept in the results database for its model
(``store.linear_policy``), and every stored file of that model is rescored from its
stored embedding at once; files classified later get their score as they are
stored (``Store.put_many``).
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nsfw_desktop.learn.evaluation import AtThreshold, at_threshold
from nsfw_desktop.scan.pipeline import ScanControl, classify_and_commit, entries_for_paths
from nsfw_desktop.scan.types import DecodeOptions, FileEntry, ScanPolicy
from nsfw_desktop.store.linear_policy import LinearPolicy, score_log_odds
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store

MIN_MARKS_PER_KIND = 5  # fewer, and a held-out fold has no file of that kind to be judged on
FOLDS = 5
MIN_GAIN = 0.02  # balanced accuracy on held-out marks: less is within the noise of a few marks
# Regularisation strengths tried, chosen by an inner cross-validation on the marks being fitted:
# the right one depends on the embedding's size (32 to 1024) and on the number of marks.
STRENGTHS = np.logspace(-3, 0, 4)
INNER_FOLDS = 3
KINDS = ("nsfw", "safe")


@dataclass(frozen=True)
class Judged:
    """How one set of scores decided the held-out marks."""

    at_threshold: AtThreshold
    roc_auc: float

    def as_dict(self) -> dict[str, Any]:
        return {"roc_auc": self.roc_auc, **self.at_threshold.as_dict()}


@dataclass(frozen=True)
class Comparison:
    """The policy's held-out predictions against the model's scores, on the same marks."""

    nsfw_marks: int
    safe_marks: int
    folds: int
    threshold: float
    policy: Judged
    model: Judged

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k not in ("policy", "model")},
                "policy": self.policy.as_dict(), "model": self.model.as_dict()}


@dataclass
class FitOutcome:
    model: str
    adopted: bool  # stored as the model's policy, every file rescored
    reasons: list[str] = field(default_factory=list)  # why it does not deserve adopting
    more_marks_needed: dict[str, int] = field(default_factory=dict)  # kind -> how many more
    comparison: Comparison | None = None
    policy: LinearPolicy | None = None  # the fitted policy, when it does better than the model
    rescored: int = 0  # stored files that got a policy score


def marks_needed(nsfw_marks: int, safe_marks: int) -> dict[str, int]:
    """How many more marks of each kind fitting needs (kinds that have enough are left out)."""
    have = {"nsfw": nsfw_marks, "safe": safe_marks}
    return {kind: MIN_MARKS_PER_KIND - count for kind, count in have.items() if count < MIN_MARKS_PER_KIND}


def fit_policy(store: Store, model: str, *, threshold: float = 0.5, seed: int = 0,
               adopt: bool = True) -> FitOutcome:
    """Fit a policy on the reviewed files of ``model`` that have stored embeddings, compare it
    with the model on held-out marks, and adopt it (store it, rescore every file) if better.
    ``adopt=False`` leaves adopting to the caller (``Store.save_policy(outcome.policy)``): the
    app shows the figures first."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    started = time.monotonic()
    _, embeddings, model_scores, marks = store.reviewed(model)
    nsfw_marks = int(marks.sum())
    needed = marks_needed(nsfw_marks, len(marks) - nsfw_marks)
    if needed:
        reasons = [f"{more} more '{kind}' mark(s) needed (at least {MIN_MARKS_PER_KIND} of each kind)"
                   for kind, more in needed.items()]
        return FitOutcome(model, False, reasons, needed)
    features = _features(embeddings, model_scores)
    folds = min(FOLDS, nsfw_marks, len(marks) - nsfw_marks)
    balanced = cross_val_predict(_estimator(seed), features, marks, method="predict_proba",
                                 cv=StratifiedKFold(folds, shuffle=True, random_state=seed))[:, 1]
    held_out = _on_threshold_scale(balanced, threshold)
    comparison = Comparison(nsfw_marks, len(marks) - nsfw_marks, folds, threshold,
                            policy=_judged(marks, held_out, threshold),
                            model=_judged(marks, model_scores, threshold))
    reasons = _why_not(comparison)
    if reasons:
        return FitOutcome(model, False, reasons, comparison=comparison)
    estimator = _estimator(seed).fit(features, marks)
    weights, intercept = _folded(estimator)
    intercept += float(score_log_odds([threshold])[0])
    policy = LinearPolicy(model, weights, intercept, comparison.as_dict(), fitted_at=time.time(),
                          fit_seconds=time.monotonic() - started)
    if not adopt:
        return FitOutcome(model, False, comparison=comparison, policy=policy)
    return FitOutcome(model, True, comparison=comparison, policy=policy, rescored=store.save_policy(policy))


def _on_threshold_scale(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    logits = score_log_odds(probabilities) + score_log_odds([threshold])[0]
    return 0.5 * (1.0 + np.tanh(0.5 * logits.astype(np.float64)))


def _features(embeddings: np.ndarray, model_scores: np.ndarray) -> np.ndarray:
    return np.hstack([embeddings, score_log_odds(model_scores)[:, None]])  # (N, D + 1)


def _estimator(seed: int):
    """Scaler and class-balanced logistic regression, its strength picked by inner folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    regression = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced",
                                                                    max_iter=5000))
    # An outer training fold holds at least MIN_MARKS_PER_KIND - 1 marks of each kind: enough
    # for INNER_FOLDS folds with one of each kind.
    return GridSearchCV(regression, {"logisticregression__C": STRENGTHS}, scoring="neg_log_loss",
                        cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed))


def _folded(estimator) -> tuple[np.ndarray, float]:
    """The scaler and the regression as one linear function of the raw features:
    w·(x - mean)/scale + b = (w/scale)·x + (b - Σ w·mean/scale)."""
    scaler, regression = estimator.best_estimator_[0], estimator.best_estimator_[-1]
    coefficients = regression.coef_[0] / scaler.scale_
    intercept = regression.intercept_[0] - float(np.dot(coefficients, scaler.mean_))
    return coefficients.astype(np.float32), float(intercept)


def _judged(marks: np.ndarray, scores: np.ndarray, threshold: float) -> Judged:
    from sklearn.metrics import roc_auc_score

    return Judged(at_threshold(marks, scores, threshold), float(roc_auc_score(marks, scores)))


def _why_not(comparison: Comparison) -> list[str]:
    policy, model = comparison.policy, comparison.model
    ours, theirs = policy.at_threshold.balanced_accuracy, model.at_threshold.balanced_accuracy
    assert ours is not None and theirs is not None, "a comparison holds marks of both kinds"
    gain = ours - theirs
    reasons = []
    if gain < MIN_GAIN:
        reasons.append(f"on held-out marks it decides no better than the model (balanced accuracy "
                       f"{ours:.3f} against the model's {theirs:.3f}; it must gain {MIN_GAIN})")
    if policy.roc_auc < model.roc_auc:
        reasons.append(f"on held-out marks it ranks worse than the model (ROC AUC {policy.roc_auc:.3f} "
                       f"against {model.roc_auc:.3f})")
    return reasons


def reviewed_without_embedding(store: Store, model: str) -> list[str]:
    """Reviewed files, there now, without a stored embedding of ``model``: a policy cannot learn
    from them until their embeddings are filled in."""
    prints = store.fingerprints()
    return [r.path for r in store.results()
            if r.review is not None and r.missing_since is None
            and not (r.model == model and prints[os.fsencode(r.path)].has_embedding)]


def fill_embeddings(store: Store, classifier, paths: list[str], *, options: DecodeOptions | None = None,
                    control: ScanControl | None = None) -> Iterator[list[Result] | tuple[str, str]]:
    """Classify ``paths`` again with embeddings kept (one forward pass each), committing each
    batch; yields each batch of Results, or (path, reason) for a file that cannot be read.
    A review mark survives, unless the file changed since it was marked."""
    entries: list[FileEntry] = []
    for item in entries_for_paths(paths):
        if isinstance(item, tuple):
            yield item
        else:
            entries.append(item)
    yield from classify_and_commit(entries, classifier, store, ScanPolicy(embeddings=True), options,
                                   control)


def review_next(store: Store, threshold: float, count: int) -> list[Result]:
    """The unreviewed files whose deciding score is nearest the threshold: the marks that
    would teach a policy most, nearest first."""
    undecided = (r for r in store.results() if r.awaits_review)
    return heapq.nsmallest(count, undecided, key=lambda r: r.review_priority(threshold))
