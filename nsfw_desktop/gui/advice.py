"""What to do, in the window's words: the core's errors end with command-line advice
("point --model at a folder", "scan --embeddings"), which means nothing in the app.

The core errors that carry such advice keep the problem apart from it
(``problem``: models, embeddings, the results database) and name the setting
that fixes it (``setting``); here each setting becomes the menu and field that
change it.
"""

from __future__ import annotations

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.similar.search import EmbeddingsError
from nsfw_desktop.store.database import StoreError

SETTINGS = "File > Settings…"
SETTING_ADVICE = {
    "model": f"Choose another model under Model in {SETTINGS} (the included open_nsfw works offline).",
    "device": f"Choose auto or cpu under Device in {SETTINGS}.",
    "precision": f"Choose exact or balanced under Precision in {SETTINGS}.",
    "endpoints": f"Start the app without HF_HUB_OFFLINE to use the endpoints set under Model in {SETTINGS}.",
}
EMBEDDINGS_ADVICE = (f"Tick \u201cKeep image embeddings\u201d under Find similar in {SETTINGS}, "
                     "then scan again (File > Scan).")


def for_window(exc: Exception) -> str:
    """``exc``'s message, with the window's advice in place of the command line's."""
    if isinstance(exc, EmbeddingsError):
        return f"{exc.problem}. {EMBEDDINGS_ADVICE}"
    if isinstance(exc, ModelError):  # its own advice is for the command line
        return f"{exc.problem} {SETTING_ADVICE.get(exc.setting, '')}".rstrip()
    if isinstance(exc, StoreError):  # the app's database is its own: no --db to choose
        return exc.problem
    return str(exc)
