"""scan --ray: the classifying step on a local Ray instance gives the local scan's results.

The tests marked ``ray`` share one Ray instance (``ray_instance`` in conftest) and skip
without the cluster extra; the others need no Ray.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.scan.engine import BatchDone, scan
from nsfw_desktop.scan.pipeline import ScanControl
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.store.results import Store
from tests.conftest import run_scan, write_photos

# Scores of the same inputs through the same fp32 model, in another process and batch.
TOLERANCE = 1e-5


@pytest.mark.ray
def test_a_ray_started_here_listens_on_this_computer_only(ray_instance):
    import psutil  # comes with Ray

    ray_processes = psutil.Process().children(recursive=True)
    listening = {ipaddress.ip_address(connection.laddr.ip) for process in ray_processes
                 for connection in process.net_connections("inet") if connection.status == psutil.CONN_LISTEN}
    # An IPv6 socket may listen on an IPv4 address: ::ffff:127.0.0.1.
    listening = {getattr(address, "ipv4_mapped", None) or address for address in listening}
    # Before, Ray's servers (GCS, raylet, workers) listened on every address.
    assert listening, "no listening socket found among Ray's processes"
    assert all(address.is_loopback for address in listening), listening


@pytest.mark.ray
def test_a_ray_started_here_keeps_its_token_private_and_out_of_the_home_folder(ray_instance):
    token = Path.home() / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600  # Ray writes it 0644
    # The tests' Ray wrote its token into the user's home folder before.
    assert Path(tempfile.gettempdir()) in token.parents


def ray_step(model: Path, **options):
    from nsfw_desktop.classify import ModelSpec
    from nsfw_desktop.cluster.batch import RayOptions, ray_classify

    return ray_classify(ModelSpec(str(model), device="cpu"), RayOptions(**options))


def library(folder: Path, count: int) -> Path:
    write_photos(folder, count)
    (folder / "broken.jpg").write_bytes(b"not a picture")
    return folder


@pytest.mark.ray
@pytest.mark.slow
def test_a_ray_scan_gives_the_local_scans_results(tmp_path, ray_instance, make_classifier, tiny_model):
    root = library(tmp_path / "photos", 6)
    with Store(tmp_path / "local.db") as store:
        run_scan([root], make_classifier(), store, embeddings=True)
        expected = {r.path: r for r in store.results()}
        vectors = {path: store.embedding(path, r.model) for path, r in expected.items() if not r.error}
    for ship_bytes in (False, True):
        with Store(tmp_path / f"ray-{ship_bytes}.db") as store:
            started, summary, _ = run_scan([root], make_classifier(), store, embeddings=True,
                                           classify=ray_step(tiny_model, ship_bytes=ship_bytes))
            assert (started.to_classify, summary.scanned, summary.errors) == (7, 7, 1)
            got = {r.path: r for r in store.results()}
            assert got.keys() == expected.keys()
            for path, want in expected.items():
                have = got[path]
                assert (have.label, have.error, have.width, have.height, have.model, have.mtime_ns) == (
                    want.label, want.error, want.width, want.height, want.model, want.mtime_ns)
                if want.error is None:
                    assert have.nsfw_score == pytest.approx(want.nsfw_score, abs=TOLERANCE)
                    np.testing.assert_allclose(store.embedding(path, have.model), vectors[path], atol=1e-3)


@pytest.mark.ray
@pytest.mark.slow
def test_a_cancelled_ray_scan_resumes_with_nothing_lost_or_classified_twice(
        tmp_path, ray_instance, make_classifier, tiny_model, store):
    root = tmp_path / "many"
    write_photos(root, 12)
    control = ScanControl()
    first = []
    for event in scan([str(root)], make_classifier(), store, options=DecodeOptions(batch_size=2),
                      control=control, classify=ray_step(tiny_model)):
        if isinstance(event, BatchDone):
            first.extend(event.results)
            control.cancel()
    assert len(first) == 2 and store.count() == 2
    kept = {r.path: r.scanned_at for r in store.results()}

    started, summary, second = run_scan([root], make_classifier(), store, batch_size=2,
                                        classify=ray_step(tiny_model))
    assert (started.to_classify, started.unchanged, summary.scanned) == (10, 2, 10)
    assert not {r.path for r in second} & kept.keys()
    assert store.count() == 12
    assert {r.path: r.scanned_at for r in store.results() if r.path in kept} == kept


def ray_map_workers() -> list[int]:
    """Process ids of the Ray Data map workers this test process started (Linux /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # the process ended meanwhile
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    workers = []
    for pid in mine:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if cmdline.read().startswith(b"ray::MapWorker"):
                    workers.append(pid)
        except OSError:
            continue
    return workers


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker in /proc")
def test_a_worker_killed_mid_scan_loses_nothing_and_duplicates_nothing(
        tmp_path, ray_instance, make_classifier, tiny_model, store):
    root = tmp_path / "many"
    write_photos(root, 12)
    results, killed = [], []
    for event in scan([str(root)], make_classifier(), store, options=DecodeOptions(batch_size=2),
                      classify=ray_step(tiny_model)):
        if isinstance(event, BatchDone):
            results.extend(event.results)
            if not killed:
                killed = ray_map_workers()
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)
    assert killed  # Ray started a new worker and ran the lost batches again
    assert sorted(r.path for r in results) == sorted(str(p) for p in root.iterdir())
    assert store.count() == 12 and all(r.error is None for r in store.results())


@pytest.mark.ray
@pytest.mark.slow
def test_cli_scan_on_ray_exports_the_csv(tmp_path, ray_instance, tiny_model, capsys):
    root = library(tmp_path / "photos", 3)
    csv = tmp_path / "all.csv"
    code = main(["scan", str(root), "--model", str(tiny_model), "--device", "cpu",
                 "--db", str(tmp_path / "r.db"), "--csv", str(csv), "--all", "--ray", "--ray-ship-bytes"])
    assert code == 0
    out = capsys.readouterr().out
    assert "scanned:   4" in out and "errors:    1" in out
    assert len(csv.read_text().splitlines()) == 1 + 4


def test_without_ray_the_message_names_the_extra(tmp_path, photos, tiny_model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    code = main(["scan", str(photos), "--model", str(tiny_model), "--db", str(tmp_path / "r.db"), "--ray"])
    assert code == 1
    assert "pip install 'nsfw-desktop[cluster]'" in capsys.readouterr().err


def test_a_path_taken_for_the_ray_address_is_caught(tmp_path, photos, tiny_model, capsys):
    other = write_photos(tmp_path / "other", 1)[0].parent
    code = main(["scan", str(photos), "--ray", str(other), "--model", str(tiny_model),
                 "--db", str(tmp_path / "r.db")])
    assert code == 1
    assert "put --ray after the paths, or write --ray=ADDRESS" in capsys.readouterr().err
