"""``nsfw-desktop quarantine``: move files into a quarantine folder, list it, put files back.

The same moves as the desktop app's, with the same journal: each run first
completes or rolls back what an interrupted run (or the app) left unfinished.
"""

from __future__ import annotations

import argparse
import os
import sys

from nsfw_desktop.cli.common import CliError, add_db_option, open_store, threshold
from nsfw_desktop.files.canonical import StoredNames, under
from nsfw_desktop.files.displaypath import display_path

APP_FOLDER = ""  # --list without a folder: the desktop app's quarantine folder


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "quarantine", help="move files to a quarantine folder, list it, or put them back",
        description="Move files into a quarantine folder (nothing is overwritten; a taken name "
                    "gets a new one), and put them back. Where each file came from is written "
                    "to the folder's journal before it moves, so even a run that is killed can "
                    "be put back with --restore. The results database follows every move.",
        epilog="examples: nsfw-desktop quarantine a.jpg b.jpg --to /mnt/q | nsfw-desktop "
               "quarantine --flagged ~/Pictures | nsfw-desktop quarantine --restore /mnt/q")
    parser.add_argument("paths", nargs="*", metavar="FILE",
                        help="files to quarantine; with --flagged, scanned files or folders to take "
                             "the flagged files from; with --restore, quarantined files to put back "
                             "(default: all of them)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--flagged", action="store_true",
                      help="quarantine the flagged files under the paths, as the app decides: a "
                           "review mark first, then the personal policy, then the score")
    mode.add_argument("--restore", metavar="FOLDER",
                      help="put files of this quarantine folder back where they came from")
    mode.add_argument("--list", nargs="?", const=APP_FOLDER, metavar="FOLDER",
                      help="list the files of this quarantine folder (default: the desktop app's) "
                           "and where each came from")
    parser.add_argument("--to", metavar="FOLDER", default=None,
                        help="quarantine folder (default: the desktop app's)")
    parser.add_argument("--threshold", type=threshold, default=None,
                        help="with --flagged: NSFW score from which a file is flagged (default: the "
                             "desktop app's threshold)")
    parser.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    parser.add_argument("--yes", action="store_true",
                        help="with --restore: also create folders that are gone and lie outside the "
                             "app's folders (asked when run in a terminal)")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nsfw_desktop.config import settings as settings_file

    if args.threshold is not None and not args.flagged:
        raise CliError("--threshold goes with --flagged")
    listing = args.list is not None
    if not (args.paths or args.restore or listing):
        raise CliError("name the files to quarantine, or use --flagged PATH, --restore FOLDER or "
                       "--list FOLDER")
    if args.to and (args.restore or listing):
        raise CliError("--to names where files go; --restore and --list take their folder themselves")
    saved, problem = settings_file.load_or_defaults()
    if problem:
        print(f"nsfw-desktop: {problem}", file=sys.stderr)
    folder = os.path.abspath(args.restore or args.list or args.to or saved.quarantine_path())
    named = args.restore or (args.list if args.list != APP_FOLDER else None)
    if named and not os.path.isdir(folder):
        # Said plainly: "put back 0 files" from a mistyped folder reads as files lost.
        raise CliError(f"there is no folder {display_path(folder)}: nothing was quarantined there "
                       "('nsfw-desktop quarantine --list' shows the app's quarantine folder)")
    if args.dry_run and not args.flagged:
        _dry_run(args, folder)
        return 0
    with open_store(args, read_only=args.dry_run) as store:
        if not args.dry_run:
            _recover(folder, store)
        if listing:
            return _list(folder)
        if args.restore:
            return _restore(args, folder, store, saved.folders)
        paths = _flagged(args, store, folder, saved) if args.flagged else args.paths
        if args.dry_run:
            _show_plan(folder, paths)
            return 0
        return _quarantine(paths, folder, store)


def _recover(folder: str, store) -> None:
    from nsfw_desktop.quarantine.journal import recover

    try:
        recovery = recover(folder, store)
    except OSError as exc:
        raise CliError(f"cannot use the quarantine's journal in {display_path(folder)}: "
                       f"{exc.strerror or exc}") from None
    if recovery.completed or recovery.rolled_back:
        print(f"An interrupted run was finished first: {len(recovery.completed)} move(s) completed, "
              f"{len(recovery.rolled_back)} rolled back (those files stayed where they were).",
              file=sys.stderr)
    if recovery.database_error:
        raise CliError(f"{recovery.database_error} The quarantine's journal keeps the moves of an "
                       "interrupted run; run this command again when the database is free.")


def _flagged(args: argparse.Namespace, store, folder: str, saved) -> list[str]:
    from nsfw_desktop.classify.catalogue import recommended_threshold
    from nsfw_desktop.config.settings import settings_path

    if args.threshold is None:  # the app's threshold, or the model's recommended one before the app saved any
        args.threshold = saved.threshold if settings_path().exists() else recommended_threshold(saved.model)
    roots = [os.path.abspath(p) for p in args.paths]
    if not roots:
        raise CliError("--flagged needs the scanned files or folders to take flagged files from")
    found = list(under(store.results(), roots))
    if not found:
        raise CliError(f"no stored results under {', '.join(map(display_path, roots))}; scan them first "
                       "with 'nsfw-desktop scan'")
    return [r.path for r in found if r.flagged(args.threshold) and os.path.dirname(r.path) != folder]


def _quarantine(paths: list[str], folder: str, store) -> int:
    from nsfw_desktop.quarantine import moves as quarantine

    names = StoredNames(store.results())
    # A file named through a link, or by its real path, moves under the name its row has.
    stored = [p if store.get(p) is not None else names.find(p) or p for p in map(os.path.abspath, paths)]
    outcome = quarantine.quarantine(stored, folder, store)
    for move in outcome.moves:
        print(f"moved\t{display_path(move.source)}\t{display_path(move.destination)}")
    for path, reason in outcome.failures:
        print(f"not moved: {display_path(path)}: {reason}", file=sys.stderr)
    print(f"Moved {len(outcome.moves)} file(s) to {display_path(folder)}; {len(outcome.failures)} not "
          f"moved. 'nsfw-desktop quarantine --restore {display_path(folder)}' puts them back.",
          file=sys.stderr)
    return _database_error(outcome)


def _restore(args: argparse.Namespace, folder: str, store, app_folders: list[str]) -> int:
    from nsfw_desktop.quarantine import moves as quarantine

    moves = _chosen(args.paths, folder)
    risky = quarantine.outside_folders(moves, app_folders)
    if risky and not args.yes and not _confirmed(risky):
        for move in risky:
            print(f"not put back: {display_path(move.destination)}: its folder "
                  f"{display_path(os.path.dirname(move.source))} is gone and outside the app's folders; "
                  "run again with --yes to create it", file=sys.stderr)
        moves = [m for m in moves if m not in risky]
    outcome = quarantine.undo(moves, store)
    wanted = {m.destination: m.source for m in moves}
    for move in outcome.moves:
        renamed = "\t(its old name was taken)" if wanted[move.source] != move.destination else ""
        print(f"put back\t{display_path(move.source)}\t{display_path(move.destination)}{renamed}")
    for path, reason in outcome.failures:
        print(f"not put back: {display_path(path)}: {reason}", file=sys.stderr)
    print(f"Put back {len(outcome.moves)} file(s); {len(moves) - len(outcome.moves)} could not be.",
          file=sys.stderr)
    return _database_error(outcome)


def _chosen(paths: list[str], folder: str) -> list:
    """The moves back for ``paths`` (quarantined files, or where they came from), or for every
    quarantined file; files the journal does not know are reported, not moved."""
    from nsfw_desktop.quarantine.journal import origins
    from nsfw_desktop.quarantine.moves import Move

    known = {q: source for q, source in origins(folder).items() if os.path.lexists(q)}
    if not paths:
        unknown = sorted(set(_files_in(folder)) - set(known))
        if unknown:
            print(f"{len(unknown)} file(s) in {display_path(folder)} are not in its journal, so they stay "
                  f"(move them by hand): {', '.join(map(display_path, unknown[:5]))}", file=sys.stderr)
        return [Move(source, q) for q, source in known.items()]
    by_origin = {source: q for q, source in known.items()}
    moves = []
    for path in map(os.path.abspath, paths):
        q = path if path in known else by_origin.get(path)
        if q is None:
            print(f"not put back: {display_path(path)}: not a quarantined file of {display_path(folder)}",
                  file=sys.stderr)
        else:
            moves.append(Move(known[q], q))
    return moves


def _confirmed(risky: list) -> bool:
    if not sys.stdin.isatty():
        return False
    print("These files came from folders that are gone and lie outside the app's folders:", file=sys.stderr)
    for move in risky:
        print(f"  {display_path(move.source)}", file=sys.stderr)
    answer = input("Create those folders and put the files back there? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _list(folder: str) -> int:
    from nsfw_desktop.quarantine.journal import origins

    known = origins(folder)
    for path in sorted(_files_in(folder)):
        origin = display_path(known[path]) if path in known else "(not in the journal)"
        print(f"{display_path(path)}\t{origin}")
    return 0


def _dry_run(args: argparse.Namespace, folder: str) -> None:
    """--dry-run of a plain quarantine, --restore or --list: reads, moves nothing, needs no database."""
    from nsfw_desktop.quarantine.journal import Journal
    from nsfw_desktop.quarantine.moves import free_name

    unfinished = sum(i.state == "open" for i in Journal(folder).read())
    if unfinished:
        print(f"{unfinished} move(s) of an interrupted run would be completed or rolled back first.",
              file=sys.stderr)
    if args.list is not None:
        _list(folder)
    elif args.restore:
        taken: set[str] = set()
        for move in _chosen(args.paths, folder):
            destination = free_name(move.source, taken)
            taken.add(destination)
            print(f"would put back\t{display_path(move.destination)}\t{display_path(destination)}")
    else:
        _show_plan(folder, args.paths)


def _show_plan(folder: str, paths: list[str]) -> None:
    from nsfw_desktop.quarantine.moves import free_name

    taken: set[str] = set()
    for path in map(os.path.abspath, paths):
        if not os.path.isfile(path):
            print(f"not moved: {display_path(path)}: not a file", file=sys.stderr)
            continue
        destination = free_name(os.path.join(folder, os.path.basename(path)), taken)
        taken.add(destination)
        print(f"would move\t{display_path(path)}\t{display_path(destination)}")
    print(f"Would move {len(taken)} file(s) to {display_path(folder)}.", file=sys.stderr)


def _files_in(folder: str) -> list[str]:
    from nsfw_desktop.quarantine.journal import LOCK_NAME, LOG_NAME

    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [os.path.join(folder, n) for n in names
            if n not in (LOG_NAME, LOCK_NAME) and os.path.isfile(os.path.join(folder, n))]


def _database_error(outcome) -> int:
    if outcome.database_error is None:
        return 0
    print(f"nsfw-desktop: the files moved, but the results database could not follow: "
          f"{outcome.database_error} The quarantine's journal keeps every move; the next "
          "'nsfw-desktop quarantine' (any form) or the app brings the database in step.", file=sys.stderr)
    return 1
