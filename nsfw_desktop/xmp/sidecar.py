"""One photo's XMP sidecar: find it, merge our keywords into it, write it safely.

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
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from nsfw_desktop import atomic
from nsfw_desktop.xmp.keywords import ARRAY_KINDS, STATES, TagOptions

log = logging.getLogger(__name__)

_EXIV2 = threading.Lock()
MAX_SIDECAR_BYTES = 64 * 1024 * 1024  # darktable's edit histories stay far below this
XMP_MIME = "application/rdf+xml"
# What a new sidecar starts from: an XMP packet with no properties, so exiv2 opens it
# as a sidecar (pyexiv2 offers no way to create an empty one).
_EMPTY_PACKET = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
                 b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/><?xpacket end="w"?>')


class SidecarError(Exception):
    """A sidecar that was left as it is; the message says which and why, for the user."""


@dataclass
class Change:
    photo: str
    sidecar: str
    before: list[str] = field(default_factory=list)  # our keywords (states) found in the sidecar
    after: list[str] = field(default_factory=list)  # what it holds now (or would, in a dry run)
    changed: bool = False  # the sidecar was (or, in a dry run, would be) written
    created: bool = False  # a new sidecar
    deleted: bool = False  # the sidecar held nothing but our keywords, and was removed


def sidecar_names(photo: str | Path, naming: str) -> list[Path]:
    """The two names a sidecar of ``photo`` may have, the one ``naming`` gives a new one first."""
    photo = Path(photo)
    darktable = photo.with_name(photo.name + ".xmp")  # photo.jpg.xmp: darktable, digiKam, Immich
    lightroom = photo.with_suffix(".xmp")  # photo.xmp: Lightroom, Bridge
    return [darktable, lightroom] if naming == "darktable" else [lightroom, darktable]


def locate(photo: str | Path, naming: str) -> Path:
    """The sidecar of ``photo``: an existing one of either name (links and all), else
    the name ``naming`` gives a new one."""
    names = sidecar_names(photo, naming)
    for name in names:
        if os.path.lexists(name):
            return name
    return names[0]


def apply(photo: str, state: str | None, options: TagOptions, *, dry_run: bool = False) -> Change:
    """Make the sidecar of ``photo`` hold the keyword of ``state`` (None: none of ours),
    keeping everything else in it. Raises SidecarError, leaving the sidecar untouched."""
    path = locate(photo, options.naming)
    wanted = options.fields([state] if state else [])
    ours = options.ours()
    with _EXIV2:
        pyexiv2 = _pyexiv2()
        data = _read(path)
        if data is None and state is None:
            return Change(photo, str(path))
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
                return change  # every field already right: nothing is written
            change.changed, change.created = True, data is None
            for key, values in edits.items():
                _set_array(image, key, values)
            change.deleted = data is not None and not image.read_xmp()
            result = image.get_bytes()
        except RuntimeError as exc:
            raise SidecarError(f"{path}: exiv2 could not update it ({_first_line(exc)}); it was "
                               "left as it is") from None
        finally:
            image.close()
        if not dry_run:
            _write(path, None if change.deleted else result, photo)
        return change


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


def _read(path: Path) -> bytes | None:
    """The sidecar's bytes, None when there is none. A link is never followed (O_NOFOLLOW):
    it may point out of the photo's folder."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SidecarError(f"{path} is a symbolic link; tags are not written through links, "
                               "so it was left as it is") from None
        raise SidecarError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SidecarError(f"{path} is not a regular file; it was left as it is")
        if info.st_size > MAX_SIDECAR_BYTES:
            raise SidecarError(f"{path} is larger than {MAX_SIDECAR_BYTES // 2**20} MiB; it was "
                               "left as it is")
        try:
            return handle.read()
        except OSError as exc:
            raise SidecarError(f"cannot read {path}: {exc.strerror}") from None


def _write(path: Path, data: bytes | None, photo: str) -> None:
    """Replace the sidecar atomically (temporary file + rename, which replaces a link
    itself rather than what it points to), or remove it when ``data`` is None. A new
    sidecar gets the photo's permissions; a rewritten one keeps its own."""
    try:
        if data is None:
            os.unlink(path)
            return
        try:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
        except FileNotFoundError:
            mode = stat.S_IMODE(os.stat(photo).st_mode) & 0o666
        with atomic.replaced(path, permissions=mode) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise SidecarError(f"cannot write {path}: {exc.strerror or exc}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
