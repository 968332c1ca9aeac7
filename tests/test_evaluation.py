import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from nsfw_desktop.cli import main
from nsfw_desktop.learn.evaluation import (
    at_threshold,
    evaluate,
    expected_calibration_error,
    threshold_for_false_positive_rate,
    threshold_for_recall,
)
from nsfw_desktop.store.results import Store
from tests.conftest import build_tiny_vit, write_photos


@pytest.fixture
def labelled(tmp_path):
    """A labelled folder: 6 photos in nsfw/, 9 in normal/."""
    folder = tmp_path / "labelled"
    write_photos(folder / "nsfw", 6)
    write_photos(folder / "normal", 9, start=6)
    return folder


def model_scores(tiny_model, paths) -> dict[str, float]:
    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths

    classifier = make_classifier(str(tiny_model), device="cpu")
    return {r.path: r.nsfw_score for batch in classify_entries(list(entries_for_paths(paths)), classifier)
            for r in batch}


def test_evaluate_gives_scikit_learns_auc_and_caches_the_scores(labelled, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    argv = ["evaluate", str(labelled), "--model", str(tiny_model), "--db", str(db), "--json",
            "--target-recall", "0.8"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    paths = sorted(str(p) for p in labelled.rglob("*.png"))
    scores = model_scores(tiny_model, paths)
    marks = [int("/nsfw/" in path) for path in paths]
    values = [scores[path] for path in paths]
    assert first["roc_auc"] == roc_auc_score(marks, values)
    assert first["average_precision"] == average_precision_score(marks, values)
    assert (first["unsafe"], first["safe"], first["classified"]) == (6, 9, 15)
    low, high = first["roc_auc_interval"]
    assert low <= first["roc_auc"] <= high
    assert first["at_target"]["recall"] >= 0.8
    # Again: every score comes from the database, and the library's results are left alone.
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["classified"], second["from_database"]) == (0, 15)
    assert second["roc_auc"] == first["roc_auc"]
    assert Store(db).count() == 0


def test_several_models_on_one_run_each_cached(labelled, tiny_model, tmp_path, capsys):
    other = build_tiny_vit(tmp_path / "other", seed=3)
    argv = ["evaluate", str(labelled), "--model", str(tiny_model), "--model", str(other),
            "--db", str(tmp_path / "r.db"), "--json"]
    assert main(argv) == 0
    assert [json.loads(line)["classified"] for line in capsys.readouterr().out.splitlines()] == [15, 15]
    assert main(argv) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["classified"] for r in reports] == [0, 0]
    assert reports[0]["model"] != reports[1]["model"]


def test_a_csv_of_paths_and_labels_and_plots(labelled, tiny_model, tmp_path, capsys):
    listing = tmp_path / "labels.csv"
    rows = [f"labelled/{p.parent.name}/{p.name},{'porn' if p.parent.name == 'nsfw' else 'neutral'}"
            for p in sorted(labelled.rglob("*.png"))]
    listing.write_text("path,label\n" + "\n".join(rows) + "\n")
    plots = tmp_path / "plots"
    assert main(["evaluate", str(listing), "--model", str(tiny_model), "--db", str(tmp_path / "r.db"),
                 "--plots", str(plots), "--target-fpr", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "6 unsafe, 9 safe" in out and "for false-positive rate 0.2: threshold" in out
    names = sorted(p.name for p in plots.iterdir())
    assert len(names) == 3 and [n.endswith(k) for n, k in zip(
        names, ["-precision-recall.png", "-roc.png", "-scores.png"], strict=True)] == [True] * 3
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in plots.iterdir())


def test_evaluate_from_reviews(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert main(["scan", str(photos), "--model", str(tiny_model), "--db", str(db)]) == 0
    files = sorted(photos.iterdir())
    assert main(["review", "--nsfw", *map(str, files[:2]), "--db", str(db)]) == 0
    assert main(["review", "--safe", *map(str, files[2:]), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--from-reviews", "--model", str(tiny_model), "--db", str(db), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    stored = {r.path: r.nsfw_score for r in Store(db).results()}
    marks = [1, 1, 0, 0, 0]
    assert report["roc_auc"] == roc_auc_score(marks, [stored[str(f)] for f in files])
    assert report["classified"] == 0  # the scan's own rows answer


def test_one_kind_of_label_only_is_one_clear_line(tmp_path, tiny_model, capsys):
    write_photos(tmp_path / "set" / "normal", 3)
    assert main(["evaluate", str(tmp_path / "set"), "--model", str(tiny_model),
                 "--db", str(tmp_path / "r.db")]) == 1
    assert "there are no unsafe files among the 3 marked" in capsys.readouterr().err


def test_thresholds_for_targets_are_the_best_that_reach_them():
    marks = np.array([0, 0, 0, 0, 1, 0, 1, 1, 0, 1])
    scores = np.linspace(0.05, 0.95, 10)
    for recall in (0.5, 0.75, 1.0):
        chosen = threshold_for_recall(marks, scores, recall)
        assert at_threshold(marks, scores, chosen).recall >= recall
        higher = scores[scores > chosen]
        assert all(at_threshold(marks, scores, t).recall < recall for t in higher)
    for rate in (0.0, 1 / 6, 0.5):
        chosen = threshold_for_false_positive_rate(marks, scores, rate)
        assert at_threshold(marks, scores, chosen).false_positive_rate <= rate
        lower = scores[scores < chosen]
        assert all(at_threshold(marks, scores, t).false_positive_rate > rate for t in lower)


def test_confusion_matrix_and_calibration():
    marks = [0, 0, 1, 1, 1]
    scores = [0.1, 0.6, 0.4, 0.7, 0.9]
    decided = at_threshold(marks, scores, 0.5)
    assert (decided.true_negatives, decided.false_positives, decided.false_negatives,
            decided.true_positives) == (1, 1, 1, 2)
    assert decided.recall == pytest.approx(2 / 3) and decided.false_positive_rate == 0.5
    # Bins of 0.1: each file alone in its bin, |mark - score| each.
    expected = np.mean(np.abs(np.array(marks) - np.array(scores)))
    assert expected_calibration_error(marks, scores) == pytest.approx(expected)
    assert expected_calibration_error([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]) == 0.0
    report = evaluate(marks, scores, 0.5, rounds=200)
    assert report.as_dict()["at_threshold"]["accuracy"] == 0.6


def test_evaluate_says_plainly_what_is_wrong_with_its_arguments(tmp_path, capsys):
    from tests.conftest import random_image

    picture = tmp_path / "photo.jpg"
    random_image(3).save(picture, format="JPEG")
    assert main(["evaluate", str(picture)]) == 1
    err = capsys.readouterr().err
    assert "is not a CSV of path,label rows (it is not text: a picture?)" in err and "codec" not in err
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path), "--target-recall", "1.5"])
    assert ("argument --target-recall: must be a share between 0 and 1 (0.95 for 95%), not 1.5"
            in capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    help_text = capsys.readouterr().out
    assert "95% intervals" in help_text and "95%%" not in help_text
