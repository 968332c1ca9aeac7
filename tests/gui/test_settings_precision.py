"""The settings dialog's Precision box, and the threshold it proposes when the model changes."""

from nsfw_desktop.classify.catalogue import recommended_threshold
from nsfw_desktop.classify.model_source import OPEN_NSFW
from nsfw_desktop.config.settings import Settings


def make_dialog(qtbot, settings):
    from nsfw_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    return dialog


def test_the_precision_box_edits_the_precision(qtbot):
    dialog = make_dialog(qtbot, Settings(precision="balanced"))
    assert dialog.precision.currentData() == "balanced"
    dialog.precision.setCurrentIndex(dialog.precision.findData("fast"))
    dialog.accept()
    assert dialog.result() == 1 and dialog.settings.precision == "fast"


def test_changing_model_proposes_its_threshold_and_remembers_the_old_one(qtbot):
    from nsfw_desktop.gui.settings_dialog import DEFAULT, HUB, INCLUDED

    dialog = make_dialog(qtbot, Settings(threshold=0.72, model_thresholds={OPEN_NSFW: 0.35}))
    dialog.model_kind.setCurrentIndex(HUB)
    dialog.model_text.setText("owner/other-model")
    dialog.model_text.editingFinished.emit()
    assert dialog.threshold.value() == recommended_threshold("owner/other-model")
    assert "owner/other-model" in dialog.threshold_hint.text()
    dialog.model_kind.setCurrentIndex(INCLUDED)
    assert dialog.threshold.value() == 0.35  # the one last chosen for it
    dialog.model_kind.setCurrentIndex(DEFAULT)
    assert dialog.threshold.value() == 0.72  # back to the default model: its own threshold
    dialog.model_kind.setCurrentIndex(INCLUDED)
    dialog.threshold.setValue(0.4)
    dialog.accept()
    saved = dialog.settings
    assert (saved.model, saved.threshold) == (OPEN_NSFW, 0.4)
    assert saved.threshold_for(None) == 0.72 and saved.model_thresholds[OPEN_NSFW] == 0.4


def test_open_nsfw_is_a_model_of_its_own_not_a_hugging_face_id(qtbot):
    from nsfw_desktop.gui.settings_dialog import INCLUDED, MODEL_KINDS

    assert "open_nsfw" in MODEL_KINDS[INCLUDED] and "offline" in MODEL_KINDS[INCLUDED]
    dialog = make_dialog(qtbot, Settings(model=OPEN_NSFW))
    assert dialog.model_kind.currentIndex() == INCLUDED
    assert not dialog.model_text.isEnabled() and dialog.model_text.text() == ""
    assert OPEN_NSFW not in dialog.model_text.placeholderText()
    dialog.accept()
    assert dialog.result() == 1 and dialog.settings.model == OPEN_NSFW
