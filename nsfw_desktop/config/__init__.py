"""The user's settings, shared by the command line, the app, the watcher and the server."""
