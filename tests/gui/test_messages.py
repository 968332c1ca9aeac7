"""Messages in the window: what to do in the window's words, and a bar that does not grow."""

from nsfw_desktop.gui import message_bar
from nsfw_desktop.gui.message_bar import MAX_MESSAGES, MessageBar
from tests.conftest import build_tiny_vit
from tests.gui.conftest import SCAN_TIMEOUT_MS


def _no_command_line(text):
    assert "--" not in text and "nsfw-desktop " not in text, text


def test_find_similar_without_embeddings_names_the_setting(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    window.select_rows([0])
    window.similar_action.trigger()
    qtbot.waitUntil(lambda: window.messages.isVisible(), timeout=SCAN_TIMEOUT_MS)
    text = "\n".join(window.messages.messages)
    assert "File > Settings" in text and "Keep image embeddings" in text
    _no_command_line(text)
    assert "Looking for photos like" not in window.status.text()
    assert not window.filter_state.showing_similar


def test_a_device_that_is_missing_names_the_setting(make_window, scan, photos):
    window = make_window([photos], device="mps")
    assert scan(window) is None
    assert "Device in File > Settings" in window.scan_error
    _no_command_line(window.scan_error)


def test_a_model_without_unsafe_labels_names_the_setting(make_window, scan, photos, tmp_path):
    model = build_tiny_vit(tmp_path / "pets", labels=("cat", "dog"))
    window = make_window([photos], model=str(model))
    assert scan(window) is None
    assert "Model in File > Settings" in window.scan_error
    _no_command_line(window.scan_error)


def test_the_message_bar_keeps_a_few_lines_each_dismissable(qtbot):
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.show()
    for i in range(10):
        bar.show_message(f"problem {i}")
    bar.show_message("problem 9")  # the same again is not doubled
    assert bar.messages == [f"problem {i}" for i in range(10 - MAX_MESSAGES, 10)]
    bar.dismiss(bar._lines[0])
    assert len(bar.messages) == MAX_MESSAGES - 1 and bar.isVisible()
    bar.clear()
    assert not bar.isVisible()


def test_outcomes_go_away_by_themselves(qtbot, monkeypatch):
    monkeypatch.setattr(message_bar, "INFO_SECONDS", 0.2)
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.show()
    bar.show_message("a problem")
    bar.show_info("Moved 3 files")
    assert bar.messages == ["a problem", "Moved 3 files"]
    qtbot.waitUntil(lambda: bar.messages == ["a problem"], timeout=3000)


def test_an_unreachable_model_shows_the_advice_in_the_bar_itself(qtbot):
    """The download error is long: with two lines the bar cut it before the advice."""
    from nsfw_desktop.classify.model_source import DOWNLOAD_ADVICE, UNREACHABLE, ModelError
    from nsfw_desktop.gui.advice import for_window

    exc = ModelError(f"Could not download model Falconsai/nsfw_image_detection: {UNREACHABLE}.",
                     DOWNLOAD_ADVICE, setting="model")
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.resize(650, 200)  # the bar's width in a 1280-pixel window
    bar.show_message(f"The model cannot be used: {for_window(exc)}")
    bar.show()
    qtbot.waitExposed(bar)
    label = bar._lines[0].label
    assert label.text().endswith("(the included open_nsfw works offline).")
    _no_command_line(label.text())


def test_a_model_error_reaches_the_window_without_its_command_line_advice():
    from nsfw_desktop.classify.model_source import ModelError
    from nsfw_desktop.gui.advice import for_window

    plain = ModelError("The model folder /m has no weights.", "Point --model at another folder.")
    assert for_window(plain) == "The model folder /m has no weights."
    chosen = ModelError("Model x/y is not downloaded yet.", "Use --model open-nsfw.", setting="model")
    assert "--" not in for_window(chosen) and "under Model in File > Settings" in for_window(chosen)


def test_a_busy_database_during_a_scan_is_told_without_the_command_lines_advice(
        make_window, scan, photos, qtbot, db_path, monkeypatch):
    import sqlite3

    from nsfw_desktop.store.database import failure
    from nsfw_desktop.store.results import Store

    def busy(self, *args, **kwargs):
        raise failure(None, sqlite3.OperationalError("database is locked"), db_path, read_only=False)

    window = make_window([photos])
    monkeypatch.setattr(Store, "put_many", busy)
    scan(window)
    said = window.scan_error
    assert said.endswith("is busy: another nsfw-desktop is writing to it. Wait for it to finish.")
    assert "--db" not in said


def test_a_model_the_fast_precision_cannot_export_names_the_precision_setting(tiny_model, tmp_path,
                                                                              monkeypatch):
    import pytest
    import torch

    from nsfw_desktop.classify import onnx_export
    from nsfw_desktop.classify.model_source import ModelError, resolve
    from nsfw_desktop.gui.advice import for_window

    def refuse(*args, **kwargs):
        raise RuntimeError("an operator the exporter does not know")

    monkeypatch.setattr(torch.onnx, "export", refuse)  # a failure of the exporter, as torch raises one
    with pytest.raises(ModelError) as caught:
        onnx_export.export_fp32(resolve(str(tiny_model)), tmp_path / "model.onnx")
    assert "Use --precision exact or balanced." in str(caught.value)  # the command line's advice
    said = for_window(caught.value)
    assert "an operator the exporter does not know" in said and "--" not in said
    assert said.endswith("Choose exact or balanced under Precision in File > Settings….")
