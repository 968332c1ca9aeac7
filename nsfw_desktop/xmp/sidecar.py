"""One photo's XMP sidecars: merge our keywords into each, write them safely.

Which sidecars a photo has is ``naming``'s rule; how a shared sidecar is read
and replaced without losing another program's change is ``files``'.

The library is pyexiv2 (exiv2 in its wheels): it parses and serializes XMP, we
write no XML by hand. exiv2 keeps process-wide state (its XMP toolkit, the
namespace registry it grows while parsing, pyexiv2's error log) that only the
GIL guards today, and a change of a sidecar takes several calls, so every use
of it here holds ``_EXIV2``: each read-change-write of a sidecar is one step
for the threads of this process (the app's sidecar thread, a scan, the watcher).

What exiv2 changes when it rewrites a sidecar: the packet is serialized anew
(its indentation, the ``x:xmptk`` attribute, no padding), and a field we
change moves to the end of its description. Every property keeps its value
and array kind. A sidecar whose keywords are already right is not rewritten.
A sidecar another program changes while we merge is read and merged again, a
few times; then it is left as it is and reported.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from nsfw_desktop.xmp import files
from nsfw_desktop.xmp.files import SidecarError
from nsfw_desktop.xmp.keywords import ARRAY_KINDS, STATES, TagOptions
from nsfw_desktop.xmp.naming import FolderNames, sidecars

__all__ = ["Change", "SidecarError", "apply", "apply_all"]

log = logging.getLogger(__name__)

_EXIV2 = threading.Lock()
XMP_MIME = "application/rdf+xml"
ATTEMPTS = 5  # reads of a sidecar another program keeps changing, before it is left alone
# What a new sidecar starts from: an XMP packet with no properties, so exiv2 opens it
# as a sidecar (pyexiv2 offers no way to create an empty one).
_EMPTY_PACKET = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
                 b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/><?xpacket end="w"?>')


@dataclass
class Change:
    photo: str
    sidecar: str
    before: list[str] = field(default_factory=list)  # our keywords (states) found in the sidecar
    after: list[str] = field(default_factory=list)  # what it holds now (or would, in a dry run)
    changed: bool = False  # the sidecar was (or, in a dry run, would be) written
    created: bool = False  # a new sidecar
    deleted: bool = False  # the sidecar held nothing but our keywords, and was removed


def apply_all(photo: str, state: str | None, options: TagOptions, *, dry_run: bool = False,
              names: FolderNames | None = None) -> list[Change]:
    """``apply`` to each sidecar of ``photo`` (both, where both names exist)."""
    return [apply(photo, state, options, dry_run=dry_run, sidecar=path)
            for path in sidecars(photo, options.naming, names)]


def apply(photo: str, state: str | None, options: TagOptions, *, dry_run: bool = False,
          sidecar: Path | None = None) -> Change:
    """Make a sidecar of ``photo`` (``sidecar``, else its first) hold the keyword of
    ``state`` (None: none of ours), keeping everything else in it. Raises SidecarError,
    leaving the sidecar as it is."""
    path = sidecar or sidecars(photo, options.naming)[0]
    for _attempt in range(ATTEMPTS):
        before = files.read(path)
        change, result = _merged(photo, path, before.data, state, options)
        if dry_run or not change.changed:
            return change
        try:
            files.write(path, None if change.deleted else result, before, photo)
        except files.ChangedMeanwhile:
            log.info("%s changed while its tags were merged; reading it again", path)
            continue
        return change
    raise SidecarError(f"{path} kept changing while its tags were written (another program is "
                       "writing it); it was left as it is: write the tags again once that "
                       "program is done")


def _merged(photo: str, path: Path, data: bytes | None, state: str | None,
            options: TagOptions) -> tuple[Change, bytes | None]:
    """What the sidecar holding ``data`` becomes: the change, and its new bytes."""
    wanted = options.fields([state] if state else [])
    ours = options.ours()
    if data is None and state is None:
        return Change(photo, str(path)), None
    with _EXIV2:
        pyexiv2 = _pyexiv2()
        try:
            image = pyexiv2.ImageData(data if data is not None else _EMPTY_PACKET)
        except RuntimeError as exc:
            raise SidecarError(f"{path} could not be read as XMP ({_first_line(exc)}); it was left "
                               "as it is: repair or remove it, then write the tags again") from None
        try:
            if image.get_mime_type() != XMP_MIME:
                raise SidecarError(f"{path} is not an XMP sidecar ({image.get_mime_type()}); it was "
                                   "left as it is: rename it, then write the tags again")
            # exiv2 derives EXIF and IPTC from a sidecar's XMP and would write them back
            # into it, undoing our removals; dropping those in-memory copies keeps the XMP as it is.
            image.clear_exif()
            image.clear_iptc()
            current = image.read_xmp()
            found = {key: _values(current, key) for key in wanted}
            before = [s for s in STATES
                      if any(v in found[key] for key, (v,) in options.fields([s]).items())]
            change = Change(photo, str(path), before, [state] if state else [])
            edits = {}
            for key, values in wanted.items():
                present = found[key]
                kept = [v for v in present if v not in ours[key]]
                if kept + values != present:
                    edits[key] = kept + values
            if not edits:
                return change, data  # every field already right: nothing is written
            change.changed, change.created = True, data is None
            for key, values in edits.items():
                _set_array(image, key, values)
            change.deleted = data is not None and not image.read_xmp()
            return change, image.get_bytes()
        except RuntimeError as exc:
            raise SidecarError(f"{path}: exiv2 could not update it ({_first_line(exc)}); it was "
                               "left as it is") from None
        finally:
            image.close()


def _pyexiv2():
    """pyexiv2, imported when first needed (the app starts without it), with exiv2's
    warnings silenced: it prints them on stdout, into the command's output. Errors still
    raise, and become the SidecarError that names the file."""
    import pyexiv2

    pyexiv2.set_log_level(3)
    return pyexiv2


def _values(xmp: dict, key: str) -> list[str]:
    value = xmp.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _set_array(image, key: str, values: list[str]) -> None:
    """Replace the array ``key`` by ``values`` (removed when empty), as a Bag or Seq as its
    schema says: pyexiv2 writes a list as a Seq, so the items go in one by one."""
    if not values:
        image.modify_xmp({key: None})
        return
    image.modify_xmp({key: f"type={ARRAY_KINDS[key]}"})
    image.modify_xmp({f"{key}[{i}]": value for i, value in enumerate(values, 1)})


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
