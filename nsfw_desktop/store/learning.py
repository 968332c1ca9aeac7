"""What the results database keeps for measuring the model and learning from review marks.

``LearningTables`` is part of ``Store`` (a mixin: it uses the store's
connection, in the store's thread, with its errors in plain words):

- the ``policies`` table and the ``results.policy_score`` column
  (``store.linear_policy``): the adopted personal policy of each model, and the
  review marks with embeddings a policy is fitted on;
- ``evaluation_scores``: the scores ``nsfw-desktop evaluate`` computed for
  labelled files, per model, apart from ``results``, so that evaluating another
  model never replaces the library's results and a second evaluation runs no model.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from nsfw_desktop.store.database import user_errors
from nsfw_desktop.store.linear_policy import (
    EMBEDDING_DTYPE,
    POLICY_SCHEMA,
    DamagedPolicy,
    LinearPolicy,
    delete_policy,
    load_policy,
)
from nsfw_desktop.store.linear_policy import save_policy as _save_policy

log = logging.getLogger(__name__)

LEARNING_SCHEMA = POLICY_SCHEMA + """
CREATE TABLE IF NOT EXISTS evaluation_scores (
    path BLOB NOT NULL,             -- os.fsencode(path) of a labelled file
    model TEXT NOT NULL,
    file_size INTEGER NOT NULL,     -- the file as it was scored: a changed file is scored again
    mtime_ns INTEGER NOT NULL,
    nsfw_score REAL,                -- NULL when the file could not be classified
    error TEXT,
    PRIMARY KEY (path, model)
);
"""


class LearningTables:
    """Store methods for policies, review marks with embeddings, and evaluate's kept scores."""

    db: sqlite3.Connection
    path: Path
    read_only: bool
    damaged_policies: set[str]  # models whose stored policy is damaged: ignored, said once

    @user_errors
    def policy(self, model: str) -> LinearPolicy | None:
        """The adopted policy for ``model``, or None. A damaged one (a damaged or hand-edited
        database) is ignored, and a warning line says so once, naming ``policy reset``."""
        try:
            return load_policy(self.db, model)
        except DamagedPolicy as exc:
            self._ignore(exc)
            return None

    @user_errors
    def policy_models(self) -> list[str]:
        """The models that have an adopted policy (read without loading any model)."""
        return [model for (model,) in self.db.execute("SELECT model FROM policies ORDER BY model")]

    def policy_scores(self, results: Sequence) -> list[float | None]:
        """Policy scores of a batch of Results being stored: one each, None where the model
        has no policy (or a damaged one) or the result has no embedding or score."""
        scores: list[float | None] = [None] * len(results)
        for model in {r.model for r in results}:
            wanted = [i for i, r in enumerate(results)
                      if r.model == model and r.embedding is not None and r.nsfw_score is not None]
            policy = self.policy(model) if wanted else None
            if policy is None:
                continue
            embeddings = np.stack([np.asarray(results[i].embedding, np.float32) for i in wanted])
            try:
                values = policy.scores(embeddings, [results[i].nsfw_score for i in wanted])
            except DamagedPolicy as exc:
                self._ignore(exc)
                continue
            for i, value in zip(wanted, values.tolist(), strict=True):
                scores[i] = value
        return scores

    def _ignore(self, damage: DamagedPolicy) -> None:
        if damage.model not in self.damaged_policies:
            self.damaged_policies.add(damage.model)
            log.warning("%s: %s", self.path, damage)

    @user_errors
    def save_policy(self, policy: LinearPolicy) -> int:
        """Adopt ``policy`` for its model and rescore that model's stored files from their
        embeddings, in one commit; returns how many files got a policy score."""
        scored = _save_policy(self.db, policy)
        self.db.commit()
        return scored

    @user_errors
    def reset_policy(self, model: str) -> bool:
        """Return ``model``'s files to the model's own scores; False if it had no policy."""
        deleted = delete_policy(self.db, model)
        self.db.commit()
        return deleted

    @user_errors
    def reviewed(self, model: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The reviewed files of ``model`` that have a stored embedding and score: paths,
        embeddings (N, D) float32, the model's scores (N,), and the marks (N,) with 1 = nsfw."""
        rows = self.db.execute(
            """SELECT r.path, e.vector, r.nsfw_score, r.review = 'nsfw' FROM results r
            JOIN embeddings e ON e.path = r.path AND e.model = r.model
            WHERE r.model=? AND r.review IS NOT NULL AND r.nsfw_score IS NOT NULL AND r.error IS NULL
            ORDER BY r.path""", (model,)).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32), np.zeros(0), np.zeros(0, int)
        paths, vectors, scores, marks = zip(*rows, strict=True)
        embeddings = np.frombuffer(b"".join(vectors), dtype=EMBEDDING_DTYPE).reshape(len(rows), -1)
        return ([os.fsdecode(p) for p in paths], embeddings.astype(np.float32),
                np.array(scores, np.float64), np.array(marks, int))

    @user_errors
    def evaluation_scores(self, model: str) -> dict[bytes, tuple[int, int, float | None, str | None]]:
        """path bytes -> (file_size, mtime_ns, nsfw_score, error) of files ``evaluate`` scored."""
        rows = self.db.execute("SELECT path, file_size, mtime_ns, nsfw_score, error "
                               "FROM evaluation_scores WHERE model=?", (model,))
        return {row[0]: row[1:] for row in rows}

    @user_errors
    def put_evaluation_scores(self, results: Iterable) -> None:
        self.db.executemany("INSERT OR REPLACE INTO evaluation_scores VALUES (?,?,?,?,?,?)",
                            [(os.fsencode(r.path), r.model, r.file_size, r.mtime_ns, r.nsfw_score,
                              r.error) for r in results])
        self.db.commit()
