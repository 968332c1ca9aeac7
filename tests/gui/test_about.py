"""Help > About: version, the model in use and its licence, links; and the theme and icon."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from nsfw_desktop import __version__
from nsfw_desktop.classify.model_source import DEFAULT_MODEL, DEFAULT_REVISION
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.files import paths
from nsfw_desktop.gui import theme
from nsfw_desktop.gui.about import AboutDialog, describe_model
from nsfw_desktop.gui.help_menu import add_help_menu
from nsfw_desktop.gui.icon import app_icon


def test_default_model_is_named_with_its_revision_and_licence():
    info = describe_model(None)
    assert info.name == f"{DEFAULT_MODEL} (revision {DEFAULT_REVISION[:7]})"
    assert info.licence == "Apache-2.0"
    assert info.page == f"https://huggingface.co/{DEFAULT_MODEL}"
    assert describe_model(f"{DEFAULT_MODEL}@{DEFAULT_REVISION}") == info


def test_other_hub_models_point_at_their_card():
    info = describe_model("someone/other-model@abc123")
    assert info.name == "someone/other-model (revision abc123)"
    assert info.page == "https://huggingface.co/someone/other-model"
    assert "model card" in info.licence


def test_a_model_folder_licence_comes_from_its_model_card(tiny_model, tmp_path):
    assert "no README.md" in describe_model(str(tiny_model)).licence
    folder = tmp_path / "carded"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: cc-by-4.0\nlibrary_name: transformers\n---\n# A model\n")
    info = describe_model(str(folder))
    assert info.licence == "cc-by-4.0"
    assert info.page == folder.as_uri()


def test_endpoints_are_named_instead_of_a_model():
    info = describe_model(None, ["https://a.example/classify", "http://10.0.0.2:8000"])
    assert "https://a.example/classify" in info.name and "http://10.0.0.2:8000" in info.name
    assert info.page is None


def test_about_shows_version_model_licence_and_links(qtbot):
    dialog = AboutDialog(describe_model(None))
    qtbot.addWidget(dialog)
    text = dialog.text.text()
    assert __version__ in dialog.title.text()
    assert DEFAULT_MODEL in text and "Apache-2.0" in text
    assert f'href="https://huggingface.co/{DEFAULT_MODEL}"' in text
    assert 'href="https://spdx.org/licenses/Apache-2.0.html"' in text
    assert 'href="https://spdx.org/licenses/MIT.html"' in text
    assert str(paths.log_dir()) in text
    assert dialog.text.openExternalLinks()


def test_about_escapes_what_it_shows(qtbot, tmp_path):
    folder = tmp_path / "<b>odd & name"
    folder.mkdir()
    dialog = AboutDialog(describe_model(str(folder)))
    qtbot.addWidget(dialog)
    assert "&lt;b&gt;odd &amp; name" in dialog.text.text()


def test_help_menu_opens_about_for_the_current_settings(qtbot, monkeypatch, tiny_model):
    window = QMainWindow()
    qtbot.addWidget(window)
    settings = Settings(model=str(tiny_model))
    opened = []
    monkeypatch.setattr(AboutDialog, "exec", lambda self: opened.append(self.model) or 0)
    menu = add_help_menu(window, lambda: settings)
    models, about, logs = menu.actions()
    assert models.text() == "Models…" and about.text() == "About nsfw-desktop"
    assert logs.text() == "Open log folder"
    about.trigger()
    assert opened == [describe_model(str(tiny_model))]


def test_the_icon_has_every_size():
    icon = app_icon()
    assert not icon.isNull()
    sizes = {size.width() for size in icon.availableSizes()}
    assert {16, 32, 48, 256, 512} <= sizes


@pytest.fixture
def restore_palette(qapp):
    """Puts the application's style and palette back after a theme test."""
    style, palette = qapp.style().name(), qapp.palette()
    yield qapp
    qapp.setStyle(style)
    qapp.setPalette(palette)


def test_theme_follows_the_system_scheme(restore_palette):
    app = restore_palette
    connection = theme.follow_system_theme(app)
    try:
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert theme.is_dark(app.palette())
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert not theme.is_dark(app.palette())
    finally:
        QObject.disconnect(connection)


def test_unknown_scheme_leaves_the_palette_alone(restore_palette):
    app = restore_palette
    before = app.palette().color(theme.Role.Window)
    theme.apply_color_scheme(app, Qt.ColorScheme.Unknown)
    assert app.palette().color(theme.Role.Window) == before
