"""The desktop app (PySide6): a thin layer over the Qt-free core.

``nsfw_desktop.gui.app.run`` opens the window, which ``main_window`` puts
together from parts that each do one job. Heavy work stays off the GUI
thread: scans in ``scan_worker``, database and file moves in ``store_worker``,
thumbnails in ``thumbnail_loader``, heatmaps and find similar in
``feature_worker``; all of them share the one classifier of ``model_host``.

Paths and messages cross signals as ``object``: a ``str`` or ``list`` signal type
turns them into a QString, which drops the lone surrogates that stand for the
bytes of a name that is not UTF-8, and such a path then names no file. Text
shown to the user goes through ``displaypath.display_path`` instead, which puts
a visible U+FFFD in their place.
"""
