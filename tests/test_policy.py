"""The personal policy: learnt from review marks, adopted only when better, applied per model."""

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from nsfw_desktop.cli import main
from nsfw_desktop.learn.policy import _estimator, _features, _folded
from nsfw_desktop.store.linear_policy import LinearPolicy
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import SCHEMA_VERSION, Store
from tests.conftest import build_tiny_vit, write_photos

SOURCES = ["coffee", "astronaut", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
USERS_LINE = "coffee"  # the user marks every photo cut from this picture nsfw, all others safe
TILES = 10  # per source picture and half


@pytest.fixture(scope="module")
def tiles(tmp_path_factory) -> Path:
    """Photos cut from six real pictures (skimage.data): marked/ and held_out/, 60 each."""
    return cut_tiles(tmp_path_factory.mktemp("tiles"))


def cut_tiles(root: Path) -> Path:
    data = pytest.importorskip("skimage.data")
    rng = np.random.default_rng(0)
    for half in ("marked", "held_out"):
        (root / half).mkdir(parents=True)
        for name in SOURCES:
            picture = getattr(data, name)()
            height, width = picture.shape[:2]
            for i in range(TILES):
                top, left = rng.integers(0, height - 120), rng.integers(0, width - 120)
                tile = Image.fromarray(picture[top:top + 120, left:left + 120])
                tile.save(root / half / f"{name}_{i:02d}.png")
    return root


def cli(*argv) -> int:
    return main([str(a) for a in argv])


def users_line(path: str) -> bool:
    return Path(path).name.startswith(USERS_LINE)


def mark_as_the_user_would(db, folder: Path) -> None:
    files = sorted(folder.iterdir())
    assert cli("review", "--nsfw", *[f for f in files if users_line(str(f))], "--db", db) == 0
    assert cli("review", "--safe", *[f for f in files if not users_line(str(f))], "--db", db) == 0


def test_the_policy_learns_the_users_line_and_new_files_follow_it(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db, "--embeddings") == 0
    mark_as_the_user_would(db, tiles / "marked")
    capsys.readouterr()
    assert cli("policy", "fit", "--model", tiny_model, "--db", db, "--json") == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["adopted"], fit["reasons"]
    assert fit["rescored"] == 60
    held_out_figures = fit["comparison"]
    assert held_out_figures["policy"]["balanced_accuracy"] > held_out_figures["model"]["balanced_accuracy"]

    # Photos never marked, classified after the fit, without asking for embeddings: they get
    # their policy score as they are stored.
    assert cli("scan", tiles / "held_out", "--model", tiny_model, "--db", db, "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
    assert len(lines) == 60 and all(line["policy_score"] is not None for line in lines)
    truth = [users_line(line["path"]) for line in lines]
    model = np.array([line["nsfw_score"] for line in lines])
    policy = np.array([line["policy_score"] for line in lines])
    # The model's scores do not follow the user's line; the policy's do, far better.
    assert balanced_accuracy_score(truth, model >= 0.5) < 0.65
    assert roc_auc_score(truth, model) < 0.8
    assert balanced_accuracy_score(truth, policy >= 0.5) > 0.85
    assert roc_auc_score(truth, policy) > 0.9
    # "flagged" follows the policy: the export lists the files the policy flags.
    out = tmp_path / "flagged.csv"
    assert cli("export", "--csv", out, "--db", db) == 0
    with open(out, newline="") as handle:
        exported = {row["path"] for row in csv.DictReader(handle)}
    stored = {r.path: r for r in Store(db).results()}
    assert exported == {p for p, r in stored.items()
                        if (r.review == "nsfw") or (r.review is None and r.policy_score >= 0.5)}
    capsys.readouterr()
    assert cli("policy", "show", "--model", tiny_model, "--db", db) == 0
    assert "balanced accuracy" in capsys.readouterr().out
    # Without --model it only reads: every adopted policy, no model looked for or downloaded.
    assert cli("policy", "show", "--db", db) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"Policy for {tiny_model}#") and "balanced accuracy" in out
    assert "note:" not in err and "download" not in err


def test_not_adopted_without_marks_of_both_kinds(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db, "--embeddings") == 0
    files = sorted((tiles / "marked").iterdir())
    assert cli("review", "--nsfw", *files[:12], "--db", db) == 0
    assert cli("review", "--safe", *files[12:14], "--db", db) == 0
    capsys.readouterr()
    assert cli("policy", "fit", "--model", tiny_model, "--db", db) == 0
    out = capsys.readouterr().out
    assert "Not adopted: 3 more 'safe' mark(s) needed" in out
    assert all(r.policy_score is None for r in Store(db).results())


def test_not_adopted_when_the_model_already_draws_the_users_line(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db, "--embeddings") == 0
    store = Store(db)
    scores = {r.path: r.nsfw_score for r in store.results()}
    line = float(np.median(list(scores.values())))
    # The user agrees with the model at its threshold on every photo: nothing to learn.
    store.set_review([p for p, s in scores.items() if s >= line], "nsfw")
    store.set_review([p for p, s in scores.items() if s < line], "safe")
    capsys.readouterr()
    assert cli("policy", "fit", "--model", tiny_model, "--db", db, "--threshold", line, "--json") == 0
    fit = json.loads(capsys.readouterr().out)
    assert not fit["adopted"] and fit["comparison"]["model"]["balanced_accuracy"] == 1.0
    assert "decides no better than the model" in fit["reasons"][0]
    assert store.policy(next(store.results()).model) is None


def test_a_model_change_never_applies_another_models_policy(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db, "--embeddings") == 0
    mark_as_the_user_would(db, tiles / "marked")
    assert cli("policy", "fit", "--model", tiny_model, "--db", db) == 0
    other = build_tiny_vit(tmp_path / "other", seed=5)
    assert cli("scan", tiles / "marked", "--model", other, "--db", db, "--embeddings") == 0
    store = Store(db)
    rows = list(store.results())
    first_model = store.db.execute("SELECT model FROM policies").fetchone()[0]
    assert len(rows) == 60 and all(r.model != first_model for r in rows)
    assert all(r.policy_score is None for r in rows)  # the first model's policy is kept, not applied
    threshold = 0.5
    assert all(r.flagged(threshold) == (r.review == "nsfw") for r in rows)  # reviews still win
    capsys.readouterr()
    assert cli("policy", "show", "--model", other, "--db", db) == 0
    assert "No policy for" in capsys.readouterr().out
    assert cli("policy", "show", "--model", tiny_model, "--db", db, "--json") == 0
    assert json.loads(capsys.readouterr().out)["comparison"]["nsfw_marks"] == 10


def test_a_review_mark_wins_over_both_scores(tmp_path):
    def row(path, score, policy_score, review):
        return Result(path, "nsfw", score, "m", 1, 1, 1, 1, 0.0, review=review, policy_score=policy_score)

    assert not row("/a", 0.99, 0.99, "safe").flagged(0.5)
    assert row("/b", 0.01, 0.01, "nsfw").flagged(0.5)
    assert row("/c", 0.9, 0.2, None).flagged(0.5) is False  # the policy's score decides
    assert row("/d", 0.9, None, None).flagged(0.5)  # no policy: the model's
    with Store(tmp_path / "r.db") as store:
        weights = np.zeros(5, np.float32)
        weights[-1] = 1.0
        store.put_many([Result("/e", "nsfw", 0.9, "m", 1, 1, 1, 1, 0.0, embedding=np.ones(4, np.float32))])
        store.save_policy(LinearPolicy("m", weights, -10.0))  # says "safe" to everything
        store.set_review(["/e"], "nsfw")
        stored = store.get("/e")
        assert stored.policy_score < 0.01 and stored.flagged(0.5)
        assert store.fingerprints()[b"/e"].flagged(0.5)
        store.set_review(["/e"], None)
        assert not store.get("/e").flagged(0.5)
        assert store.reset_policy("m") and store.get("/e").policy_score is None
        assert store.get("/e").flagged(0.5)


def test_the_stored_policy_scores_as_the_fitted_regression_does():
    rng = np.random.default_rng(1)
    # Values a float16 holds exactly, as the stored embeddings are.
    embeddings = (rng.normal(size=(80, 16)) * 3 + 1).astype(np.float16).astype(np.float32)
    scores = rng.uniform(0.01, 0.99, 80)
    marks = (embeddings[:, 0] + rng.normal(size=80) > 1).astype(int)
    estimator = _estimator(0).fit(_features(embeddings, scores), marks)
    policy = LinearPolicy("m", *_folded(estimator))
    expected = estimator.predict_proba(_features(embeddings, scores))[:, 1]
    np.testing.assert_allclose(policy.scores(embeddings.astype(np.float16), scores), expected, atol=1e-5)


def test_reviewed_files_without_embeddings_are_filled_in(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db) == 0
    mark_as_the_user_would(db, tiles / "marked")
    capsys.readouterr()
    assert cli("policy", "fit", "--model", tiny_model, "--db", db, "--no-fill") == 0
    captured = capsys.readouterr()
    assert "60 reviewed file(s) have no stored embedding" in captured.err
    assert "10 more 'nsfw' mark(s)" not in captured.out and "Not adopted: 5 more 'nsfw'" in captured.out
    assert cli("policy", "fit", "--model", tiny_model, "--db", db) == 0
    captured = capsys.readouterr()
    assert "filling them in, which classifies each of them once more" in captured.err
    assert "Filled in 60 embedding(s)" in captured.err and "Adopted" in captured.out
    store = Store(db)
    assert store.embedding_count() == 60
    assert sum(r.review == "nsfw" for r in store.results()) == 10  # the marks survived


def test_review_next_lists_the_files_nearest_the_line(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db) == 0
    files = sorted((tiles / "marked").iterdir())
    assert cli("review", "--safe", files[0], "--db", db) == 0
    capsys.readouterr()
    assert cli("review", "--next", 5, "--threshold", 0.8, "--db", db, "--json") == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stored = [r for r in Store(db).results() if r.review is None]
    nearest = sorted(stored, key=lambda r: (abs(r.nsfw_score - 0.8), r.path))[:5]
    assert [line["path"] for line in listed] == [r.path for r in nearest]


def test_review_of_an_unscanned_file_says_to_scan_it(tmp_path, capsys):
    Store(tmp_path / "r.db").close()
    assert cli("review", "--nsfw", tmp_path / "nowhere.jpg", "--db", tmp_path / "r.db") == 1
    err = capsys.readouterr().err
    assert "is not in the results database: scan it first" in err


def test_a_schema_2_database_gets_the_policy_column(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
        CREATE TABLE results (path BLOB PRIMARY KEY, label TEXT, nsfw_score REAL, model TEXT NOT NULL,
            width INTEGER, height INTEGER, file_size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            scanned_at REAL NOT NULL, error TEXT, review TEXT, missing_since REAL);
        INSERT INTO results VALUES (X'2f612e6a7067', 'nsfw', 0.9, 'm', 10, 10, 5, 6, 7.0, NULL, 'safe', NULL);
        PRAGMA user_version = 2;""")
    with Store(path) as store:
        row = store.get("/a.jpg")
        assert (row.review, row.policy_score, row.flagged(0.5)) == ("safe", None, False)
        assert store.policy("m") is None
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_classify_gives_the_adopted_policys_score_and_stores_nothing(tiles, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db, "--embeddings") == 0
    mark_as_the_user_would(db, tiles / "marked")
    assert cli("policy", "fit", "--model", tiny_model, "--db", db) == 0
    held_out = sorted((tiles / "held_out").iterdir())[:8]
    capsys.readouterr()
    assert cli("classify", *held_out, "--model", tiny_model, "--db", db, "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 8 and all(line["policy_score"] is not None for line in lines)
    store = Store(db)
    assert store.count() == 60 and store.get(str(held_out[0])) is None
    # The same scores a scan then stores for those files.
    assert cli("scan", *held_out, "--model", tiny_model, "--db", db) == 0
    for line in lines:
        assert store.get(line["path"]).policy_score == pytest.approx(line["policy_score"], abs=1e-6)


DAMAGES = {  # what a damaged or hand-edited database may hold in a policy's row
    "weights": ("weights", b"\x00" * 7),  # not a multiple of 4 bytes
    "figures": ("figures", "{not json"),
    "dimensions": ("weights", np.zeros(4, "<f4").tobytes()),  # for embeddings of 3 numbers
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_policy_costs_one_line(tiny_model, tmp_path, capsys, damage):
    db, photos = tmp_path / "r.db", tmp_path / "photos"
    write_photos(photos, 3)
    assert cli("scan", photos, "--model", tiny_model, "--db", db, "--embeddings") == 0
    with Store(db) as store:
        first = next(store.results())
        dimensions = len(store.embedding(first.path, first.model))
        judged = dict.fromkeys(("accuracy", "balanced_accuracy", "false_positive_rate", "recall",
                                "roc_auc"), 0.5)
        figures = {"nsfw_marks": 5, "safe_marks": 5, "folds": 5, "threshold": 0.5,
                   "policy": judged, "model": judged}
        store.save_policy(LinearPolicy(first.model, np.zeros(dimensions + 1, np.float32), 0.0, figures))
    column, value = DAMAGES[damage]
    with sqlite3.connect(db) as raw:
        raw.execute(f"UPDATE policies SET {column}=?", (value,))
    raw.close()
    write_photos(photos, 2, start=3)  # new files: stored with their policy score, before
    capsys.readouterr()

    def said_once(status: int, *argv) -> str:
        assert cli(*argv) == status  # before, a traceback
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if "personal policy" in line]
        assert len(lines) == 1, captured.err
        assert "is damaged" in lines[0] and "`nsfw-desktop policy reset` removes it" in lines[0]
        assert "Traceback" not in captured.err
        return captured.out

    said_once(0, "scan", photos, "--model", tiny_model, "--db", db)
    write_photos(photos, 1, start=5)
    said_once(0, "scan", photos, "--model", tiny_model, "--db", db, "--embeddings")
    with Store(db) as store:
        new = [r for r in store.results() if not r.path.endswith(("0000.png", "0001.png", "0002.png"))]
    assert len(new) == 3 and all(r.policy_score is None for r in new)  # the model's scores decide
    out = said_once(0, "classify", photos / "photo_0000.png", "--model", tiny_model, "--db", db, "--json")
    assert json.loads(out)["policy_score"] is None and json.loads(out)["nsfw_score"] is not None
    if damage == "dimensions":  # seen only beside the model's embeddings: its figures are intact
        assert cli("policy", "show", "--model", tiny_model, "--db", db) == 0
        assert "Held-out marks: 5 nsfw, 5 safe" in capsys.readouterr().out
    else:
        said_once(1, "policy", "show", "--model", tiny_model, "--db", db)
    assert cli("policy", "reset", "--model", tiny_model, "--db", db) == 0
    assert "removed" in capsys.readouterr().out
    assert cli("policy", "show", "--model", tiny_model, "--db", db) == 0
    assert "No policy for" in capsys.readouterr().out
