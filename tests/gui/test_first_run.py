"""The first-run screen: shown while no model is usable, gone once one is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

from nsfw_desktop.classify import model_source
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.first_run import FirstRunDialog, ModelDownload, progress_bar_class


def default_model_snapshot() -> Path:
    from huggingface_hub import constants

    return (Path(constants.HF_HUB_CACHE) / "models--Falconsai--nsfw_image_detection" / "snapshots"
            / model_source.DEFAULT_REVISION)


@pytest.fixture
def hub_cache_cleanup():
    """Removes the default model from the tests' Hugging Face cache afterwards."""
    yield default_model_snapshot()
    shutil.rmtree(default_model_snapshot().parents[1], ignore_errors=True)


def plant_default_model(tiny_model: Path) -> None:
    """What a finished download leaves: the pinned revision's files in the HF cache."""
    shutil.copytree(tiny_model, default_model_snapshot(), dirs_exist_ok=True)


def test_shown_while_the_default_model_is_missing():
    assert not default_model_snapshot().exists()
    assert FirstRunDialog.needed(Settings())


def test_not_shown_once_the_default_model_is_downloaded(tiny_model, hub_cache_cleanup):
    plant_default_model(tiny_model)
    assert not FirstRunDialog.needed(Settings())


def test_not_shown_with_a_model_folder_or_endpoints(tiny_model, tmp_path):
    assert not FirstRunDialog.needed(Settings(model=str(tiny_model)))
    assert not FirstRunDialog.needed(Settings(endpoints=["http://127.0.0.1:8000"]))
    assert FirstRunDialog.needed(Settings(model=str(tmp_path / "gone")))


def test_explains_in_plain_words(qtbot):
    dialog = FirstRunDialog()
    qtbot.addWidget(dialog)
    text = dialog.introduction.text()
    assert "stays on this computer" in text
    assert "remote" in text
    assert "340 MB" in text and "340 MB" in dialog.download_button.text()
    assert dialog.folder_button.isEnabled() and dialog.download_button.isEnabled()


def test_a_model_folder_is_accepted(qtbot, tiny_model):
    dialog = FirstRunDialog()
    qtbot.addWidget(dialog)
    dialog.use_folder(str(tiny_model))
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.model == str(tiny_model.resolve())
    assert not FirstRunDialog.needed(Settings(model=dialog.model))


def test_an_unusable_folder_is_explained_and_the_screen_stays(qtbot, tmp_path):
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"not opened")
    dialog = FirstRunDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.use_folder(str(tmp_path / "pickled"))
    assert dialog.isVisible() and dialog.model is None
    assert "pickle" in dialog.status.text()


def test_download_offline_says_why_and_can_be_retried(qtbot):
    # The tests' HF_HUB_OFFLINE=1 is what a computer without a connection meets.
    dialog = FirstRunDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_download()
    assert not dialog.download_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.download_button.isEnabled(), timeout=30_000)
    assert dialog.isVisible() and dialog.source is None
    assert "not downloaded yet" in dialog.status.text()
    assert not dialog.progress.isVisible()


def test_download_shows_progress_and_finishes(qtbot, tiny_model, hub_cache_cleanup):
    size = sum(p.stat().st_size for p in tiny_model.iterdir())

    def pull(spec, *, tqdm_class):
        """Stands in for the network: reports through the bars as huggingface_hub does."""
        assert spec is None
        with tqdm_class(total=3, desc="Fetching 3 files") as files:
            written = tqdm_class(desc="Reconstructing", total=0, unit="B", unit_scale=True)
            written.total = size
            written.refresh()
            for path in tiny_model.iterdir():
                written.update(path.stat().st_size)
                files.update(1)
            written.refresh()
        plant_default_model(tiny_model)
        return model_source.resolve(None, download=False)

    dialog = FirstRunDialog(pull=pull)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=30_000)
    assert dialog.model is None  # the default model: nothing to save in the settings
    assert dialog.source.model_id.startswith(model_source.DEFAULT_MODEL)
    assert dialog.progress.maximum() == size // 1000  # counted in kilobytes
    assert dialog.progress.value() == dialog.progress.maximum()
    assert not FirstRunDialog.needed(Settings())


def test_download_errors_reach_the_screen(qtbot):
    def pull(spec, *, tqdm_class):
        raise OSError("No space left on device")

    dialog = FirstRunDialog(pull=pull)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.download_button.isEnabled(), timeout=10_000)
    assert "No space left on device" in dialog.status.text()


def test_progress_bars_print_nothing(capsys):
    reports = []
    bar_class = progress_bar_class(lambda bar: reports.append((bar.n, bar.total, bar.unit)))
    with bar_class(total=10, unit="B") as bar:
        bar.update(4)
        bar.refresh()
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    assert (4, 10, "B") in reports


def test_the_furthest_byte_bar_is_reported(qtbot):
    download = ModelDownload()
    seen = []
    download.progress.connect(lambda done, total: seen.append((done, total)))
    bar_class = progress_bar_class(download._report)
    received = bar_class(total=100, unit="B")
    written = bar_class(total=100, unit="B")
    files = bar_class(total=2)
    received.update(30)
    written.update(60)
    files.update(1)
    received.refresh()
    assert seen[-1] == (60, 100)


def test_the_included_model_is_offered_beside_the_download(qtbot):
    from nsfw_desktop.classify.model_source import OPEN_NSFW

    dialog = FirstRunDialog(pull=lambda *args, **kwargs: pytest.fail("nothing is downloaded"))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.included_button.text() == "Use the included model (works offline)"
    assert dialog.included_button.parentWidget() is dialog.download_button.parentWidget()
    assert abs(dialog.included_button.y() - dialog.download_button.y()) < 4  # beside it, on its row
    dialog.included_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.model == OPEN_NSFW and dialog.source.format == OPEN_NSFW
    assert not FirstRunDialog.needed(Settings(model=dialog.model))


def test_a_failed_download_names_no_command_line_flag(qtbot):
    dialog = FirstRunDialog()  # the tests run offline: the download fails
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.download_button.isEnabled(), timeout=30_000)
    text = dialog.status.text()
    assert "not downloaded yet" in text and "included model" in text
    assert "--" not in text and "nsfw-desktop models" not in text
