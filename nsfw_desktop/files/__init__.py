"""The app's own folders, and how it writes, names and logs files."""
