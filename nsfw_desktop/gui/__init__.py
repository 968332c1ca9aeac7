"""The desktop app (PySide6): a thin layer over the Qt-free core.

``nsfw_desktop.gui.app.run`` opens the window, which ``main_window`` puts
together from parts that each do one job. Heavy work stays off the GUI
thread: scans in ``scan_worker``, database and file moves in ``store_worker``,
thumbnails in ``thumbnail_loader``, heatmaps and find similar in
``feature_worker``; all of them share the one classifier of ``model_host``.
"""
