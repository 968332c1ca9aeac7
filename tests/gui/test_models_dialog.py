"""Help > Models shows the catalogue with measured speeds and the fast model's agreement, and the
window says what building a fast model found, in its message bar."""

from __future__ import annotations

import time

from nsfw_desktop.classify import make_classifier, speeds
from nsfw_desktop.classify.catalogue import MODELS, CatalogueModel
from nsfw_desktop.classify.model_source import OPEN_NSFW
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui import models_dialog
from nsfw_desktop.gui.models_dialog import ModelsDialog
from nsfw_desktop.scan.agreement import measurer
from tests.conftest import write_photos


def test_help_models_opens_the_dialog_for_the_current_settings(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMainWindow

    from nsfw_desktop.gui.help_menu import add_help_menu

    window = QMainWindow()
    qtbot.addWidget(window)
    opened = []
    monkeypatch.setattr(ModelsDialog, "exec", lambda self: opened.append(self.text()) or 0)
    menu = add_help_menu(window, lambda: Settings(model=OPEN_NSFW))
    menu.actions()[0].trigger()
    assert len(opened) == 1 and "ResNet-50" in opened[0]


def test_the_dialog_lists_the_catalogue_with_speeds_not_measured_yet(qtbot):
    dialog = ModelsDialog(Settings())
    qtbot.addWidget(dialog)
    text = dialog.text()
    for entry in MODELS:
        assert entry.licence in text and entry.architecture in text
    assert "--" not in text  # the window's words, not the command line's
    assert dialog.boxes[MODELS[0].name].title().endswith("(in use)")
    assert text.count("not measured yet") == 2
    speeds.record(f"{OPEN_NSFW}@0123456789ab", speeds.Speed(20.5, 64, time.time()))
    assert "20.5 images/s on this computer" in ModelsDialog(Settings()).text()


def test_the_dialog_shows_the_fast_models_measured_agreement(qtbot, tiny_model, monkeypatch, tmp_path):
    entry = CatalogueModel(name=str(tiny_model), architecture="tiny ViT", size="1 MB", licence="MIT",
                           source="the tests", threshold=0.5, threshold_source="the tests")
    monkeypatch.setattr(models_dialog, "MODELS", (entry,))
    dialog = ModelsDialog(Settings(model=str(tiny_model)))
    qtbot.addWidget(dialog)
    assert "not built on this computer yet" in dialog.text()
    fast = make_classifier(str(tiny_model), precision="fast",
                           measure_agreement=measurer(tmp_path / "none.db"))
    fast.load()
    text = ModelsDialog(Settings(model=str(tiny_model), threshold=0.5)).text()
    assert fast.agreement.describe(0.5) in text
    assert f"/{fast.agreement.count} sample pictures" in text


def test_building_the_fast_model_is_told_in_the_message_bar(make_window, scan, tmp_path, qtbot):
    write_photos(tmp_path / "photos", 4)
    window = make_window([tmp_path / "photos"], precision="fast")
    scan(window)
    messages = " ".join(window.messages.messages)
    assert "Building the fast (int8) version" in messages or "The fast model is ready" in messages
    assert "The fast (int8) model agrees with exact on" in messages
