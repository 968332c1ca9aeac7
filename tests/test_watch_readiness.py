"""Readiness's count of the handles open on a file, event by event, without observers."""

from __future__ import annotations

import time

import pytest

from nsfw_desktop.watch.readiness import Readiness

PATH = "/photos/download.jpg"


def test_a_reader_open_while_a_writer_pauses_does_not_end_the_write():
    readiness = Readiness(1.0)
    readiness.opened(PATH)
    readiness.touch(PATH, wrote=True)
    readiness.opened(PATH)  # a thumbnailer
    readiness.closed(PATH, wrote=False)
    assert readiness.writing(PATH)
    readiness.closed(PATH, wrote=True)
    assert not readiness.writing(PATH)


def test_the_write_ends_when_the_last_handle_closes():
    readiness = Readiness(1.0)
    for _ in range(2):  # two writers, or a writer and a reader: inotify does not say which
        readiness.opened(PATH)
    readiness.touch(PATH, wrote=True)
    readiness.closed(PATH, wrote=True)
    assert readiness.writing(PATH)
    readiness.closed(PATH, wrote=False)
    assert not readiness.writing(PATH)


def test_reading_alone_is_not_writing():
    readiness = Readiness(1.0)
    readiness.opened(PATH)
    readiness.touch(PATH)  # an attribute change, not a write
    assert not readiness.writing(PATH)
    readiness.closed(PATH, wrote=False)
    assert not readiness.writing(PATH)


def test_writes_without_an_open_seen_follow_the_settle_rule():
    """A polled folder, or a file opened before watching began."""
    readiness = Readiness(1.0)
    readiness.touch(PATH, wrote=True)
    assert not readiness.writing(PATH)
    readiness.closed(PATH, wrote=True)
    assert not readiness.writing(PATH)


def test_a_file_renamed_while_open_stays_open_under_its_new_name():
    readiness = Readiness(1.0)
    readiness.opened(PATH)
    readiness.touch(PATH, wrote=True)
    readiness.forget(PATH, moved_to="/photos/renamed.jpg")
    assert not readiness.writing(PATH) and readiness.writing("/photos/renamed.jpg")
    readiness.forget_under("/photos")  # unwatched: no close will come
    assert not readiness.writing("/photos/renamed.jpg")


def test_the_limit_is_not_shorter_than_the_settle_interval():
    with pytest.raises(ValueError, match="settle interval"):
        Readiness(2.0, open_limit=1.0)


def test_events_lost_again_and_again_in_a_burst_cause_one_catch_up():
    readiness = Readiness(1.0, lost_quiet=0.2)
    for _ in range(5):  # one overflow after another, while the burst goes on
        readiness.lost("/photos")
        readiness.lost("/camera")  # an overflow loses the events of every watched folder
        assert readiness.wait(time.monotonic() + 0.05).lost == []  # not while the losses go on
    assert readiness.wait(time.monotonic() + 30).lost == ["/photos", "/camera"]
    assert readiness.wait(time.monotonic() + 0.5).lost == []  # nothing left to catch up on


def test_a_stream_of_losses_is_caught_up_on_without_waiting_for_a_pause():
    readiness = Readiness(1.0, lost_quiet=0.2, lost_max_wait=0.5)
    start = time.monotonic()
    while not readiness.wait(time.monotonic() + 0.01).lost:
        assert time.monotonic() - start < 30, "the losses never paused, and nothing was caught up on"
        readiness.lost("/photos")


def test_lost_events_may_include_closes_so_the_handles_counted_are_forgotten():
    readiness = Readiness(1.0)
    readiness.opened(PATH)
    readiness.touch(PATH, wrote=True)
    readiness.lost("/photos")  # its close may have been lost: it would wait open_limit seconds
    assert not readiness.writing(PATH)
