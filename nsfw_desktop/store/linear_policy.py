"""A personal policy as the results database keeps it, and the policy score it gives a file.

``policy.fit_policy`` learns a logistic regression on a file's stored CLS
embedding and the model's own score (as log-odds). Its scaler and regression
fold into one linear function, kept here as float32 weights and an intercept,
so applying it needs numpy only: one matrix-vector product over the stored
embeddings, without the ViT and without scikit-learn.

The ``policies`` table holds at most one policy per model id. A policy learnt
on one model's embeddings means nothing for another model's, so a row of
``results`` is only ever scored by the policy of its own model; ``rescore``
and ``Store.policy_scores`` are the two places that compute ``results.policy_score``.

A row that cannot be used (weights that are not float32 values, figures that
are not JSON: a damaged or hand-edited database) raises ``DamagedPolicy``; the
store ignores such a policy and says so once.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WEIGHTS_DTYPE = np.dtype("<f4")
EMBEDDING_DTYPE = np.dtype("<f2")  # as store.EMBEDDING_DTYPE: this module sits below the store
_BLOCK_ROWS = 8192
_SCORE_EPSILON = 1e-6  # scores of exactly 0 or 1 would have infinite log-odds

POLICY_SCHEMA = """
CREATE TABLE IF NOT EXISTS policies (
    model TEXT PRIMARY KEY,         -- the model id whose embeddings and scores the policy reads
    weights BLOB NOT NULL,          -- float32 little-endian: one per embedding dimension, then the score's
    intercept REAL NOT NULL,
    figures TEXT NOT NULL,          -- JSON: held-out figures of the policy and the model when adopted
    fitted_at REAL NOT NULL,        -- seconds since the epoch
    fit_seconds REAL NOT NULL       -- how long fitting and cross-validation took
);
"""


class DamagedPolicy(ValueError):
    """A stored policy that cannot be used; the message says so in one line, and what to do."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"the personal policy for {model} is damaged ({reason}) and is ignored: the "
                         "model's scores decide for files classified now. `nsfw-desktop policy reset` "
                         "removes it and its scores, and `policy fit` learns a new one.")
        self.model = model


def score_log_odds(scores: Any) -> np.ndarray:
    """The model's scores as float32 log-odds: the feature the regression reads them as, where
    a change from 0.98 to 0.999 counts as much as one from 0.5 to 0.9."""
    clipped = np.clip(np.asarray(scores, dtype=np.float64), _SCORE_EPSILON, 1 - _SCORE_EPSILON)
    return np.log(clipped / (1 - clipped)).astype(np.float32)


@dataclass(frozen=True)
class LinearPolicy:
    model: str
    weights: np.ndarray  # (D + 1,) float32: one per embedding dimension, then the score's log-odds
    intercept: float
    figures: dict = field(default_factory=dict)  # Comparison.as_dict() of the fit that adopted it
    fitted_at: float = 0.0
    fit_seconds: float = 0.0

    @property
    def dimensions(self) -> int:
        return len(self.weights) - 1

    def scores(self, embeddings: Any, nsfw_scores: Any) -> np.ndarray:
        """(N,) float32 policy scores in 0..1 of N files from their embeddings (N, D) and the
        model's scores (N,)."""
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"a policy reads embeddings (N, D), not an array of shape {embeddings.shape}")
        if embeddings.shape[1] != self.dimensions:
            # One model's embeddings all have one length: the policy was stored wrong.
            raise DamagedPolicy(self.model, f"its weights are for embeddings of {self.dimensions} "
                                            f"numbers, the model's have {embeddings.shape[1]}")
        logits = np.empty(len(embeddings), np.float32)
        # Stored float16 rows are widened a block at a time: 100,000 x 768 would take 300 MB at once.
        for start in range(0, len(embeddings), _BLOCK_ROWS):
            block = embeddings[start:start + _BLOCK_ROWS].astype(np.float32, copy=False)
            logits[start:start + _BLOCK_ROWS] = block @ self.weights[:-1]
        logits += score_log_odds(nsfw_scores) * self.weights[-1]
        logits += np.float32(self.intercept)
        # The logistic function written with tanh: no overflow for large logits.
        return 0.5 * (1.0 + np.tanh(0.5 * logits))


def load_policy(db: sqlite3.Connection, model: str) -> LinearPolicy | None:
    """``model``'s policy, or None; DamagedPolicy for a row that cannot be used."""
    row = db.execute("SELECT weights, intercept, figures, fitted_at, fit_seconds FROM policies "
                     "WHERE model=?", (model,)).fetchone()
    if row is None:
        return None
    weights, intercept, figures, fitted_at, fit_seconds = row
    size = WEIGHTS_DTYPE.itemsize
    if not isinstance(weights, bytes) or len(weights) % size or len(weights) < 2 * size:
        raise DamagedPolicy(model, "its weights are not float32 numbers")
    values = np.frombuffer(weights, dtype=WEIGHTS_DTYPE).astype(np.float32)
    numbers = (intercept, fitted_at, fit_seconds)
    if not (all(isinstance(n, (int, float)) and math.isfinite(n) for n in numbers)
            and np.isfinite(values).all()):
        raise DamagedPolicy(model, "some of its numbers are not numbers")
    try:
        figures = json.loads(figures)
    except (TypeError, ValueError):
        raise DamagedPolicy(model, "its figures are not JSON") from None
    if not isinstance(figures, dict):
        raise DamagedPolicy(model, "its figures are not a JSON object")
    return LinearPolicy(model, values, float(intercept), figures, float(fitted_at), float(fit_seconds))


def save_policy(db: sqlite3.Connection, policy: LinearPolicy) -> int:
    """Keep ``policy`` as its model's policy and rescore that model's rows, in the caller's
    transaction; returns how many rows got a policy score."""
    db.execute("INSERT OR REPLACE INTO policies VALUES (?,?,?,?,?,?)",
               (policy.model, np.asarray(policy.weights, WEIGHTS_DTYPE).tobytes(),
                float(policy.intercept), json.dumps(policy.figures), policy.fitted_at or time.time(),
                policy.fit_seconds))
    return rescore(db, policy.model)


def delete_policy(db: sqlite3.Connection, model: str) -> bool:
    """Forget ``model``'s policy and its scores, in the caller's transaction; False if it had none."""
    deleted = db.execute("DELETE FROM policies WHERE model=?", (model,)).rowcount
    db.execute("UPDATE results SET policy_score=NULL WHERE model=? AND policy_score IS NOT NULL",
               (model,))
    return deleted > 0


def rescore(db: sqlite3.Connection, model: str) -> int:
    """Give every row of ``model`` that has a stored embedding its policy score, from that
    embedding (no ViT); the rows without one get none. Returns how many were scored."""
    policy = load_policy(db, model)
    db.execute("UPDATE results SET policy_score=NULL WHERE model=? AND policy_score IS NOT NULL",
               (model,))
    if policy is None:
        return 0
    rows = db.execute(
        """SELECT r.rowid, r.nsfw_score, e.vector FROM results r JOIN embeddings e
        ON e.path = r.path AND e.model = r.model
        WHERE r.model=? AND r.error IS NULL AND r.nsfw_score IS NOT NULL""", (model,)).fetchall()
    if not rows:
        return 0
    rowids, nsfw_scores, vectors = zip(*rows, strict=True)
    # One buffer for all vectors: no array per row.
    embeddings = np.frombuffer(b"".join(vectors), dtype=EMBEDDING_DTYPE).reshape(len(rows), -1)
    scores = policy.scores(embeddings, nsfw_scores)
    db.executemany("UPDATE results SET policy_score=? WHERE rowid=?",
                   zip(scores.tolist(), rowids, strict=True))
    return len(rows)
