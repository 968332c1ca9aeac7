"""The settings dialog's Precision box, and the threshold it proposes when the model changes."""

from nsfw_desktop.catalogue import recommended_threshold
from nsfw_desktop.model_source import OPEN_NSFW
from nsfw_desktop.settings import Settings


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
    dialog = make_dialog(qtbot, Settings(threshold=0.72, model_thresholds={OPEN_NSFW: 0.35}))
    dialog.model_kind.setCurrentIndex(2)
    dialog.model_text.setText("owner/other-model")
    dialog.model_text.editingFinished.emit()
    assert dialog.threshold.value() == recommended_threshold("owner/other-model")
    assert "owner/other-model" in dialog.threshold_hint.text()
    dialog.model_text.setText(OPEN_NSFW)
    dialog.model_text.editingFinished.emit()
    assert dialog.threshold.value() == 0.35  # the one last chosen for it
    dialog.model_kind.setCurrentIndex(0)
    assert dialog.threshold.value() == 0.72  # back to the default model: its own threshold
    dialog.model_kind.setCurrentIndex(2)
    dialog.model_text.setText(OPEN_NSFW)
    dialog.model_text.editingFinished.emit()
    dialog.threshold.setValue(0.4)
    dialog.accept()
    saved = dialog.settings
    assert (saved.model, saved.threshold) == (OPEN_NSFW, 0.4)
    assert saved.threshold_for(None) == 0.72 and saved.model_thresholds[OPEN_NSFW] == 0.4
