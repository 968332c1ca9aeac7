"""What the parts of the main window share, handed to each as one object.

The window builds these services once (``MainWindow.__init__``) and gives every part that
needs several of them this context, plus what is truly the part's own (a panel, a worker,
a callback). A new shared service: a field here, set where the window builds the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parts import this module: the types only, to keep imports one-way
    from PySide6.QtWidgets import QLabel, QMainWindow

    from nsfw_desktop.gui.actions import ActionSet
    from nsfw_desktop.gui.filter_state import FilterState
    from nsfw_desktop.gui.live_settings import LiveSettings
    from nsfw_desktop.gui.message_bar import MessageBar
    from nsfw_desktop.gui.model_host import ModelHost
    from nsfw_desktop.gui.results_model import ResultsModel
    from nsfw_desktop.gui.store_worker import StoreClient
    from nsfw_desktop.gui.thumbnail_grid import ThumbnailGrid


@dataclass(frozen=True)
class WindowContext:
    window: QMainWindow  # the parts' parent, and their dialogs'
    live: LiveSettings  # the session's settings
    host: ModelHost  # the one classifier
    model: ResultsModel  # the results the grid shows
    filters: FilterState  # what the grid shows and in what order
    store: StoreClient  # the results database, in its worker thread
    messages: MessageBar  # failures and notes for the user
    status: QLabel  # the status line: what the app is doing
    actions: ActionSet  # the window's actions, by ``Action`` member
    grid: ThumbnailGrid  # the thumbnails, and the selection
    db_path: str  # the results database, for the workers that open their own connection
