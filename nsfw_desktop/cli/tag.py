"""``nsfw-desktop tag``: write (or remove) the stored results as keywords in XMP sidecars."""

from __future__ import annotations

import sys

from nsfw_desktop.cli.common import CliError, add_db_option, open_store, threshold
from nsfw_desktop.files.displaypath import display_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tag", help="write stored results as keywords in XMP sidecars for photo managers",
        description="Write each stored file's state as a keyword in its XMP sidecar, where "
                    "digiKam, Immich, darktable, Lightroom and PhotoPrism read it: "
                    "ROOT|flagged, ROOT|reviewed safe or ROOT|reviewed nsfw (in "
                    "lr:hierarchicalSubject, digiKam:TagsList and dc:subject). Everything else in "
                    "a sidecar is kept; the photos themselves are never changed. The threshold, "
                    "root and naming default to the desktop app's settings.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders already scanned")
    parser.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    parser.add_argument("--remove", action="store_true", help="take our keywords away instead")
    parser.add_argument("--naming", choices=["darktable", "lightroom"], default=None,
                        help="name of a new sidecar: photo.jpg.xmp (darktable, digiKam, Immich) or "
                             "photo.xmp (Lightroom, Bridge); an existing sidecar of either name is used")
    parser.add_argument("--root", default=None, metavar="R", help="the keywords' root (default: NSFW)")
    parser.add_argument("--threshold", type=threshold, default=None,
                        help="NSFW score from which a file is flagged")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.config import settings as settings_file
    from nsfw_desktop.xmp.keywords import TagOptions
    from nsfw_desktop.xmp.tagging import results_under, tag_results

    saved, problem = settings_file.load_or_defaults()
    if problem:
        print(f"nsfw-desktop: {problem}", file=sys.stderr)
    defaults = saved.tag_options()
    try:
        options = TagOptions(
            threshold=defaults.threshold if args.threshold is None else args.threshold,
            root=defaults.root if args.root is None else args.root,
            naming=args.naming or defaults.naming, quarantine=defaults.quarantine)
    except ValueError as exc:
        raise CliError(f"{exc}; choose another with --root") from None
    # Read-only: the database is only read, also while a scan writes to it.
    with open_store(args, read_only=True) as store:
        results = list(results_under(store, args.paths))
    if not results:
        raise CliError(f"no stored results under {', '.join(map(display_path, args.paths))}; "
                       "scan them first with 'nsfw-desktop scan'")
    report = tag_results(results, options, remove=args.remove, dry_run=args.dry_run)
    for change in report.written:
        print(f"{_verb(change, args.dry_run)}\t{display_path(change.sidecar)}\t"
              f"{_states(change.before)} -> {_states(change.after)}")
    for path, reason in report.problems:
        print(f"not tagged: {display_path(path)}: {display_path(reason)}", file=sys.stderr)
    written = len(report.written)
    print(f"{'Would change' if args.dry_run else 'Changed'} {written} sidecar(s); "
          f"{len(report.changes) - written} already up to date; {len(report.problems)} problem(s)",
          file=sys.stderr)
    return 0


def _verb(change, dry_run: bool) -> str:
    verb = "create" if change.created else "delete" if change.deleted else "update"
    return f"would {verb}" if dry_run else verb + "d"


def _states(states: list[str]) -> str:
    return ", ".join(states) or "none"
