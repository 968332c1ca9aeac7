"""nsfw-desktop: screen personal photo libraries for NSFW images, locally and privately.

The core (model loading, imaging, store, engine) is Qt-free and imports neither
torch nor transformers at import time; the CLI, the desktop app and the server
all drive it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
