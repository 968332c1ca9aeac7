"""The desktop app (PySide6): a thin layer over the Qt-free core.

``nsfw_desktop.gui.app.run`` opens the window. Heavy work stays off the GUI
thread: scans in ``scan_worker``, database and file moves in ``store_worker``,
thumbnails in ``thumbnail_loader``.
"""
