"""The rotating log file: where it is, what reaches it, and that tokens never do."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from nsfw_desktop.files import logs, paths


@pytest.fixture(autouse=True)
def remove_app_handlers():
    """Takes the handlers setup_logging added off the root logger after each test."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if getattr(h, "nsfw_desktop", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def app_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "nsfw_desktop", False)]


def test_log_file_is_in_the_log_folder_and_gets_info(isolated_home):
    path = logs.setup_logging()
    assert path == paths.log_dir() / "nsfw-desktop.log"
    assert str(path).startswith(str(isolated_home))
    logging.getLogger("nsfw_desktop.test").info("scan of %d files started", 3)
    for handler in app_handlers():
        handler.flush()
    line = path.read_text(encoding="utf-8").strip()
    assert line.endswith("INFO nsfw_desktop.test [MainThread] scan of 3 files started")


def test_warnings_go_to_the_current_stderr(capsys):
    logs.setup_logging()
    logging.getLogger("nsfw_desktop.test").info("only in the file")
    logging.getLogger("nsfw_desktop.test").warning("ignoring unknown settings: colour")
    assert capsys.readouterr().err == "ignoring unknown settings: colour\n"


def test_calling_again_replaces_the_handlers(tmp_path, monkeypatch):
    first = logs.setup_logging()
    assert len(app_handlers()) == 2
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "elsewhere"))
    second = logs.setup_logging(console=False)
    assert second != first and len(app_handlers()) == 1
    logging.getLogger("nsfw_desktop.test").warning("moved")
    app_handlers()[0].flush()
    assert "moved" in second.read_text() and "moved" not in first.read_text()


def test_tokens_never_reach_the_file(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret-from-the-environment")
    path = logs.setup_logging(secrets=["settings-token-1234"], console=False)
    log = logging.getLogger("nsfw_desktop.test")
    log.info("endpoint token hf_abcdefghijklmnopqrstuvwxyz0123 refused")
    log.info("headers: Authorization: Bearer eyJhbGciOi.payload.sig")
    log.info("url https://host/classify?token=abc123&x=1 and api_key=xyz789")
    log.info("using %s and %s", "settings-token-1234", "secret-from-the-environment")
    try:
        raise RuntimeError("request failed with token=leaked-in-traceback")
    except RuntimeError:
        log.exception("remote call failed")
    app_handlers()[0].flush()
    text = path.read_text(encoding="utf-8")
    for secret in ("hf_abcdefghijklmnopqrstuvwxyz0123", "eyJhbGciOi", "abc123", "xyz789",
                   "settings-token-1234", "secret-from-the-environment", "leaked-in-traceback"):
        assert secret not in text
    assert text.count(logs.HIDDEN) >= 7
    assert "x=1" in text and "remote call failed" in text  # the rest of each line stays


def test_the_file_rotates(monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = logs.setup_logging(console=False)
    for i in range(200):
        logging.getLogger("nsfw_desktop.test").info("line %d %s", i, "x" * 40)
    backups = sorted(path.parent.glob("nsfw-desktop.log.*"))
    assert [p.name for p in backups] == [f"nsfw-desktop.log.{i}" for i in range(1, logs.BACKUP_COUNT + 1)]
    assert path.stat().st_size <= 2_000


def test_an_unwritable_log_folder_costs_only_the_file(tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setattr(logs, "log_file", lambda: blocked / "nsfw-desktop.log")
    logs.setup_logging()
    assert "cannot write the log file" in capsys.readouterr().err
    logging.getLogger("nsfw_desktop.test").warning("still shown")
    assert capsys.readouterr().err == "still shown\n"


def test_log_files_are_readable_by_the_owner_only(monkeypatch, isolated_home):
    import os

    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    old = os.umask(0o022)
    try:
        path = logs.setup_logging(console=False)
        for i in range(100):  # rotates: the backups are renamed, a new file is opened
            logging.getLogger("nsfw_desktop.test").info("line %d %s", i, "x" * 40)
    finally:
        os.umask(old)
    files = sorted(path.parent.glob("nsfw-desktop.log*"))
    assert len(files) == 1 + logs.BACKUP_COUNT
    assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_name_that_is_not_utf8_reaches_the_file(capsys):
    path = logs.setup_logging(console=False)
    logging.getLogger("nsfw_desktop.test").info("moved %s", "/photos/caf\udce9.png")
    for handler in app_handlers():
        handler.flush()
    assert path.read_text(encoding="utf-8").rstrip().endswith("moved /photos/caf\\udce9.png")
    assert "Logging error" not in capsys.readouterr().err


def test_basic_credentials_and_short_tokens_are_hidden():
    path = logs.setup_logging(console=False)
    log = logging.getLogger("nsfw_desktop.test")
    log.info("headers: {'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}")
    log.info("proxy said Proxy-Authorization: basic c2hvcnQ6cHc= and gave up")
    log.info("environment: HF_TOKEN=abc HOME=/home/me")
    log.info("settings {\"access_token\": \"xyz\"}")
    app_handlers()[0].flush()
    text = path.read_text(encoding="utf-8")
    for secret in ("dXNlcjpwYXNzd29yZA", "c2hvcnQ6cHc", "abc", "xyz"):
        assert secret not in text, secret
    assert "HOME=/home/me" in text and "and gave up" in text


def test_serve_api_key_never_reaches_the_log(tiny_model, monkeypatch):
    from aiohttp import web

    from nsfw_desktop.cli import main

    key = "plain-key-without-a-prefix"
    logged = []

    def run_app(app, **options):  # what aiohttp could log while serving: a request's line
        logging.getLogger("aiohttp.server").error("bad request line: GET /metrics?%s HTTP/1.1", key)
        logged.append(True)

    monkeypatch.setattr(web, "run_app", run_app)
    monkeypatch.setenv("NSFW_DESKTOP_API_KEY", key)
    assert main(["serve", "--model", str(tiny_model), "--device", "cpu"]) == 0
    assert logged
    for handler in app_handlers():
        handler.flush()
    text = logs.log_file().read_text(encoding="utf-8")
    assert "bad request line: GET /metrics?" in text and key not in text



def test_a_hub_warning_is_printed_once(isolated_home):
    """huggingface_hub gives its loggers a stderr handler of their own; with ours beside it,
    each of its retry lines was printed twice while the Hub could not be reached. In a
    process of its own, so that both handlers hold the real stderr."""
    code = ("import logging\n"
            "from huggingface_hub import snapshot_download\n"
            "from nsfw_desktop.files import logs\n"
            "logs.setup_logging()\n"
            "logging.getLogger('huggingface_hub.utils._http').warning('Retrying in 1s [Retry 1/5].')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("Retrying in 1s") == 1
