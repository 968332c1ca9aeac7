"""The walk never opens what is not a regular file: a FIFO opened to sniff its first
bytes waits for a writer forever, and so would the scan."""

import os

import pytest

from nsfw_desktop.scan.walker import WalkReport, is_candidate, walk
from tests.conftest import run_scan, write_photos

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@pytest.mark.timeout(20)
def test_walk_skips_fifos_without_opening_them(tmp_path):
    photo = write_photos(tmp_path, 1)[0]
    os.mkfifo(tmp_path / "pipe")  # no extension: the walker would sniff its first bytes
    os.mkfifo(tmp_path / "pipe.jpg")
    report = WalkReport()
    assert [entry.path for entry in walk([str(tmp_path)], report)] == [str(photo)]
    assert report.problems == []


@pytest.mark.timeout(20)
def test_sniffing_a_fifo_does_not_block(tmp_path):
    # The watcher asks is_candidate about paths straight from file-system events.
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert not is_candidate(str(pipe), "pipe")


@pytest.mark.timeout(60)
def test_scan_of_a_folder_with_a_fifo_finishes(tmp_path, make_classifier, store):
    write_photos(tmp_path, 2)
    os.mkfifo(tmp_path / "pipe")
    _, summary, results = run_scan([tmp_path], make_classifier(), store)
    assert summary is not None
    assert sorted(os.path.basename(r.path) for r in results) == ["photo_0000.png", "photo_0001.png"]
