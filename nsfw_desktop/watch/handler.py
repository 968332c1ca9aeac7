"""watchdog's events, handed to the watcher on the observer threads that call them."""

from __future__ import annotations

from watchdog.events import EventsLostEvent, FileSystemEvent, FileSystemEventHandler


class Handler(FileSystemEventHandler):
    """Hands each event to the watcher, under the path of the folder as the user named it."""

    def __init__(self, watcher):  # a Watcher: its methods for observer threads
        self.watcher = watcher
        self.watched = watcher._folders.as_watched

    def on_created(self, event: FileSystemEvent) -> None:
        self.watcher._file_changed(self.watched(event.src_path))

    def on_modified(self, event: FileSystemEvent) -> None:
        self.watcher._file_changed(self.watched(event.src_path), wrote=True)

    def on_attrib(self, event: FileSystemEvent) -> None:
        self.watcher._file_changed(self.watched(event.src_path))

    def on_opened(self, event: FileSystemEvent) -> None:
        self.watcher._file_opened(self.watched(event.src_path))

    def on_closed(self, event: FileSystemEvent) -> None:
        self.watcher._file_closed(self.watched(event.src_path), wrote=True)

    def on_closed_no_write(self, event: FileSystemEvent) -> None:
        self.watcher._file_closed(self.watched(event.src_path), wrote=False)

    def on_moved(self, event: FileSystemEvent) -> None:
        self.watcher._file_moved(self.watched(event.src_path), self.watched(event.dest_path))

    def on_deleted(self, event: FileSystemEvent) -> None:
        path = self.watched(event.src_path)
        if event.is_directory:
            self.watcher._folder_deleted(path)
        else:
            self.watcher._file_deleted(path)

    def on_events_lost(self, event: EventsLostEvent) -> None:
        self.watcher._events_lost(self.watched(event.src_path))
