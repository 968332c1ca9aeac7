"""Edit > Model quality…: figures from the review marks, a threshold for a false-positive rate,
and "Learn from my reviews" with its fill-in of embeddings, all off the GUI thread."""

from nsfw_desktop.gui.actions import Action
from nsfw_desktop.store.results import Store
from tests.test_policy import cli, cut_tiles, mark_as_the_user_would

QUALITY_TIMEOUT_MS = 120_000


def test_learn_from_my_reviews_fills_in_fits_and_applies(make_window, db_path, tiny_model, tmp_path, qtbot):
    tiles = cut_tiles(tmp_path / "tiles")
    # Scanned without embeddings: learning must fill them in first.
    assert cli("scan", tiles / "marked", "--model", tiny_model, "--db", db_path) == 0
    mark_as_the_user_would(db_path, tiles / "marked")
    window = make_window([tiles / "marked"])
    window.action_set[Action.MODEL_QUALITY].trigger()
    dialog = window.quality.dialog
    qtbot.waitUntil(lambda: dialog.learn_button.isEnabled(), timeout=QUALITY_TIMEOUT_MS)
    text = dialog.summary.text()
    assert "60 photo(s) reviewed with this model (10 NSFW, 50 safe)" in text
    assert "60 reviewed photo(s) have no stored embedding" in text

    dialog.rate.setValue(0.2)
    threshold = float(dialog.rate_result.text().split()[-1])
    dialog.use_threshold.click()
    assert window.settings.threshold == threshold

    dialog.learn_button.click()
    assert dialog.progress.isVisible()  # the window is free while the worker fits
    qtbot.waitUntil(lambda: not dialog.progress.isVisible(), timeout=QUALITY_TIMEOUT_MS)
    assert dialog.use_policy.isVisible(), dialog.figures.text()
    assert "Learnt" in dialog.figures.text() and "ROC AUC" in dialog.figures.text()
    assert Store(db_path).embedding_count() == 60 and Store(db_path).policy(
        window.model.result(0).model) is None  # shown, not used yet

    dialog.use_policy.click()
    qtbot.waitUntil(lambda: all(window.model.result(i).policy_score is not None
                                for i in range(window.model.rowCount())), timeout=QUALITY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "A policy learnt from your reviews" in dialog.summary.text(),
                    timeout=QUALITY_TIMEOUT_MS)
    assert dialog.drop_policy.isVisible()
    window.close()
