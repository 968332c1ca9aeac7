"""Keywords for stored results: what the ``tag`` command, the app and the scan hook call.

A file's keywords follow its stored state (``keywords.state_of``); a failure on
one sidecar is reported for that file and the others go on. Each folder is
listed once a run (which sidecar names are a photo's alone, ``naming``), and
temporary files a killed run left there are removed then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nsfw_desktop.files.canonical import under
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store
from nsfw_desktop.xmp.files import remove_stale_temporaries
from nsfw_desktop.xmp.keywords import TagOptions, state_of
from nsfw_desktop.xmp.naming import FolderNames
from nsfw_desktop.xmp.sidecar import Change, SidecarError, apply_all

log = logging.getLogger(__name__)


@dataclass
class Report:
    changes: list[Change] = field(default_factory=list)  # one per file looked at
    problems: list[tuple[str, str]] = field(default_factory=list)  # (photo, message for the user)

    @property
    def written(self) -> list[Change]:
        return [c for c in self.changes if c.changed]


def tag_results(results: Iterable[Result], options: TagOptions, *, remove: bool = False,
                dry_run: bool = False) -> Report:
    """Bring each result's sidecar in step with its state; ``remove`` takes our keywords
    away instead; ``dry_run`` reports what would change and writes nothing."""
    return _apply_each(((r.path, None if remove else state_of(r, options)) for r in results),
                       options, dry_run)


def tag_stored(store: Store, paths: Iterable[str], options: TagOptions, *, remove: bool = False) -> Report:
    """``tag_results`` for the stored rows of ``paths`` (a review kept by the store counts)."""
    return tag_results((r for r in map(store.get, paths) if r is not None), options, remove=remove)


def results_under(store: Store, paths: Iterable[str]) -> Iterator[Result]:
    """The stored results of the files ``paths`` name, and of every file under the folders,
    however a folder is reached (``canonical``: a link, or its real path)."""
    return under(store.results(), paths)


def remove_tags(photos: Iterable[str], options: TagOptions) -> Report:
    """Take our keywords out of the sidecars of ``photos``, stored or not (a quarantined
    file's old place: its row has moved with it)."""
    return _apply_each(((photo, None) for photo in photos), options, False)


def _apply_each(states: Iterable[tuple[str, str | None]], options: TagOptions, dry_run: bool) -> Report:
    report = Report()
    names = FolderNames()
    cleaned: set[Path] = set()
    for photo, state in states:
        if state is not None and not os.path.isfile(photo):
            report.problems.append((photo, "the photo is no longer there, so no tags were "
                                           "written; scan its folder again"))
            continue
        folder = Path(photo).parent
        if not dry_run and folder not in cleaned:
            cleaned.add(folder)
            remove_stale_temporaries(folder, names.listing(folder) or [])
        try:
            report.changes.extend(apply_all(photo, state, options, dry_run=dry_run, names=names))
        except SidecarError as exc:
            log.warning("XMP sidecar left as it was: %s", exc)
            report.problems.append((photo, str(exc)))
    return report
