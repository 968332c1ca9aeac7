"""Help > About: the app's version, the model in use with its licence, and links.

``describe_model`` works from the settings alone (no network, no torch), so the
dialog opens instantly even before the model was ever loaded.
"""

from __future__ import annotations

import html
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from nsfw_desktop import __version__
from nsfw_desktop.classify.model_source import DEFAULT_MODEL, DEFAULT_REVISION
from nsfw_desktop.files import paths
from nsfw_desktop.gui.icon import app_icon

APP_LICENCE = "MIT"
HUB_URL = "https://huggingface.co/"
# The default model's card states it (license: apache-2.0); its revision is pinned, so it holds.
DEFAULT_MODEL_LICENCE = "Apache-2.0"


@dataclass(frozen=True)
class ModelInfo:
    name: str  # what is in use: a Hub id with its revision, a folder, or endpoint addresses
    licence: str  # an SPDX-like id such as Apache-2.0, or a sentence saying why it is not known
    page: str | None  # URL of the model card or folder, when there is one


def describe_model(model: str | None, endpoints: Sequence[str] = ()) -> ModelInfo:
    """What the settings' ``model`` / ``endpoints`` point at, for people to read."""
    if endpoints:
        return ModelInfo("Remote endpoint: " + ", ".join(endpoints),
                         "set by whoever runs the endpoint", None)
    spec = model or DEFAULT_MODEL
    folder = Path(spec).expanduser()
    if folder.is_dir():
        return ModelInfo(str(folder), _folder_licence(folder), QUrl.fromLocalFile(str(folder)).toString())
    repo_id, _, revision = spec.partition("@")
    if repo_id == DEFAULT_MODEL and revision in ("", DEFAULT_REVISION):
        return ModelInfo(f"{DEFAULT_MODEL} (revision {DEFAULT_REVISION[:7]})", DEFAULT_MODEL_LICENCE,
                         HUB_URL + DEFAULT_MODEL)
    name = f"{repo_id} (revision {revision})" if revision else repo_id
    return ModelInfo(name, "see the model card", HUB_URL + repo_id)


def _folder_licence(folder: Path) -> str:
    """The ``license:`` of the folder's model card (README.md front matter), if it has one."""
    card = folder / "README.md"
    if not card.is_file():
        return "not stated in the model folder (it has no README.md model card)"
    from huggingface_hub.repocard import metadata_load

    try:
        licence = (metadata_load(card) or {}).get("license")
    except (OSError, ValueError) as exc:
        return f"unknown: the model card could not be read ({exc})"
    return str(licence) if licence else "not stated in the model card"


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


def _licence_html(licence: str) -> str:
    if " " in licence:  # a sentence, not an id
        return html.escape(licence)
    return _link(f"https://spdx.org/licenses/{licence}.html", licence)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


class AboutDialog(QDialog):
    """Modal About box. ``model`` comes from ``describe_model(settings.model, settings.endpoints)``."""

    def __init__(self, model: ModelInfo, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About nsfw-desktop")
        self.setWindowIcon(app_icon())
        self.model = model

        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.title = QLabel(f"<h2>nsfw-desktop {html.escape(__version__)}</h2>")
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        model_name = html.escape(model.name)
        if model.page:
            model_name = _link(model.page, model.name)
        log_folder = str(paths.log_dir())
        self.text = QLabel(
            "<p>Screens your photo folders for NSFW pictures, on this computer.</p>"
            f"<p><b>Model:</b> {model_name}<br><b>Model licence:</b> {_licence_html(model.licence)}</p>"
            f"<p><b>App licence:</b> {_licence_html(APP_LICENCE)}<br>"
            f"<b>Log folder:</b> {_link(QUrl.fromLocalFile(log_folder).toString(), log_folder)}</p>"
            f"<p><small>Python {html.escape(platform.python_version())}, "
            f"Qt {html.escape(qVersion())} (PySide6 {html.escape(PySide6.__version__)}), "
            f"PyTorch {html.escape(_version('torch'))}, "
            f"transformers {html.escape(_version('transformers'))}</small></p>"
        )
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setOpenExternalLinks(True)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(logo)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)
