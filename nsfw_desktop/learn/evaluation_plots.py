"""PNG plots of an evaluation: ROC curve, precision-recall curve, score histograms per class.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no window, no
global backend switch), so it runs in a worker thread or on a server without a
display. Each plot marks the threshold in use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from nsfw_desktop.learn.evaluation import at_threshold


def write_plots(folder: str | Path, name: str, marks: Any, scores: Any, threshold: float) -> list[Path]:
    """Write ``<name>-roc.png``, ``<name>-precision-recall.png`` and ``<name>-scores.png``
    into ``folder`` (created if needed); returns their paths. ``name`` is made file-safe."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'nsfw-desktop[plots]'") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
    marks = np.asarray(marks, dtype=int)
    scores = np.asarray(scores, dtype=np.float64)
    decided = at_threshold(marks, scores, threshold)
    written = []
    for kind, draw in (("roc", _roc), ("precision-recall", _precision_recall), ("scores", _histograms)):
        figure = Figure(figsize=(5, 4.2), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        draw(axes, marks, scores, threshold, decided)
        axes.set_title(f"{name}", fontsize=8)
        axes.legend(loc="best", fontsize=8)
        path = folder / f"{stem}-{kind}.png"
        figure.savefig(path)
        written.append(path)
    return written


def _roc(axes, marks, scores, threshold, decided) -> None:
    false_positive_rates, true_positive_rates, _ = roc_curve(marks, scores)
    axes.plot(false_positive_rates, true_positive_rates, label="ROC curve")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.plot([decided.false_positive_rate], [decided.recall], "o", color="crimson",
              label=f"threshold {threshold:g}")
    axes.set_xlabel("false-positive rate (safe photos flagged)")
    axes.set_ylabel("recall (unsafe photos flagged)")


def _precision_recall(axes, marks, scores, threshold, decided) -> None:
    precision, recall, _ = precision_recall_curve(marks, scores)
    axes.plot(recall, precision, label="precision-recall curve")
    flagged = decided.true_positives + decided.false_positives
    if flagged:
        axes.plot([decided.recall], [decided.true_positives / flagged], "o", color="crimson",
                  label=f"threshold {threshold:g}")
    axes.set_xlabel("recall (unsafe photos flagged)")
    axes.set_ylabel("precision (flagged photos that are unsafe)")


def _histograms(axes, marks, scores, threshold, decided) -> None:
    bins = np.linspace(0.0, 1.0, 41)
    axes.hist(scores[marks == 0], bins=bins, alpha=0.6, label=f"safe ({int((marks == 0).sum())})")
    axes.hist(scores[marks == 1], bins=bins, alpha=0.6, label=f"unsafe ({int(marks.sum())})")
    axes.axvline(threshold, color="crimson", linestyle="--", label=f"threshold {threshold:g}")
    axes.set_xlabel("NSFW score")
    axes.set_ylabel("photos")
