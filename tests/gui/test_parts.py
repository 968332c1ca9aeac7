"""The parts the main window is made of, and the Settings rules they use."""

import os
import subprocess
import sys
import threading

import pytest

from nsfw_desktop import classify as classify_package
from nsfw_desktop.classify import ModelSpec
from nsfw_desktop.config import settings as settings_file
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.model_host import ModelHost
from tests.conftest import build_tiny_vit


@pytest.fixture
def host(qtbot, tiny_model):
    made = ModelHost(ModelSpec(model=str(tiny_model), device="cpu"))
    yield made
    made.stop()


@pytest.fixture
def builds(monkeypatch):
    """Every classifier make_classifier builds, in order."""
    made = []
    real = classify_package.make_classifier

    def counting(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(classify_package, "make_classifier", counting)
    return made


def test_the_host_builds_one_classifier_for_every_thread(host, builds):
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(host.classifier())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert [classifier for _choice, classifier in answers] == builds * 4
    assert all(choice == host.choice for choice, _classifier in answers)


def test_another_model_gets_another_classifier_the_same_one_does_not(host, builds, qtbot, tmp_path):
    _choice, first = host.classifier()
    with qtbot.assertNotEmitted(host.changed):
        host.follow(Settings(model=host.choice.model, device="cpu"))
    assert host.classifier()[1] is first
    other = build_tiny_vit(tmp_path / "other", seed=1)
    with qtbot.waitSignal(host.changed) as changed:
        host.follow(Settings(model=str(other), device="cpu"))
    assert changed.args[0].model == str(other)
    choice, second = host.classifier()
    assert second is not first and choice.model == str(other) and len(builds) == 2


def test_following_the_settings_never_waits_for_a_build(host, monkeypatch, qtbot, tmp_path):
    started, release = threading.Event(), threading.Event()
    real = classify_package.make_classifier

    def slow(*args, **kwargs):
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(classify_package, "make_classifier", slow)
    answers = []
    builder = threading.Thread(target=lambda: answers.append(host.classifier()))
    builder.start()
    assert started.wait(10)
    other = build_tiny_vit(tmp_path / "other", seed=1)
    host.follow(Settings(model=str(other), device="cpu"))  # returns while the build still runs
    assert builder.is_alive()
    release.set()
    builder.join()
    old_choice, old = answers[0]
    assert old_choice.model != str(other)  # the caller gets what it asked for...
    choice, new = host.classifier()
    assert new is not old and choice.model == str(other)  # ...but it is not kept for the new model


def test_a_request_answers_on_the_gui_thread(host, qtbot, tmp_path):
    with qtbot.waitSignal(host.ready, timeout=30_000) as ready:
        host.request()
    assert ready.args[0] == host.choice and ready.args[1] is host.classifier()[1]
    empty = tmp_path / "empty"
    empty.mkdir()
    host.follow(Settings(model=str(empty)))
    with qtbot.waitSignal(host.failed, timeout=30_000) as failed:
        host.request()
    assert failed.args[0].model == str(empty) and failed.args[1].startswith("The model cannot be used")


def test_the_model_choice_never_shows_the_token():
    choice = ModelSpec.of(Settings(endpoints=["https://gpu.local"], token="hf_hidden"), ("nsfw",))
    assert choice.remote and choice.token == "hf_hidden" and "hf_hidden" not in repr(choice)


def test_settings_give_the_scan_options_and_the_folders_to_watch():
    local = Settings(folders=["/a", "/b"], watched_folders=["/b", "/gone"], batch_size=4, embeddings=True)
    assert local.decode_options().batch_size == 4 and local.scan_policy().embeddings
    assert local.folders_to_watch() == ["/b"]
    remote = local.replace(endpoints=["https://gpu.local"])
    assert not remote.scan_policy().embeddings  # an endpoint sends back scores, no embeddings


def test_live_settings_save_on_request_and_say_when_they_cannot(qtbot, monkeypatch, tmp_path):
    from nsfw_desktop.gui.live_settings import LiveSettings

    live = LiveSettings(Settings())
    with qtbot.waitSignal(live.changed) as changed:
        live.update(Settings(threshold=0.7), save=False)
    assert changed.args[0].threshold == 0.7 and not settings_file.settings_path().exists()
    live.update(Settings(threshold=0.8))
    assert settings_file.load().threshold == 0.8
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(settings_file, "settings_path", lambda: blocked / "settings.json")
    with qtbot.waitSignal(live.problem) as problem:
        live.save()
    assert problem.args[0].startswith("Settings could not be saved")


def test_every_action_is_in_a_menu_or_the_toolbar(make_window):
    from PySide6.QtWidgets import QToolBar

    def reachable(actions):
        for action in actions:
            yield action
            if action.menu() is not None:
                yield from reachable(action.menu().actions())

    window = make_window()
    shown = set(reachable(window.menuBar().actions()))
    shown.update(action for toolbar in window.findChildren(QToolBar) for action in toolbar.actions())
    assert [member for member, action in window.action_set.items() if action not in shown] == []


def test_every_action_has_a_handler_bound_where_it_is_declared(make_window):
    from PySide6.QtCore import QObject

    from nsfw_desktop.gui.actions import Action, marked_handlers

    window = make_window()
    parts = (window, *window.findChildren(QObject))
    handled = {member for part in parts for member, _ in marked_handlers(part)}
    # The heatmap action is a checkbox: HeatmapControls follows its toggled signal.
    assert set(Action) - handled == {Action.HEATMAP}


def test_a_handler_is_bound_once_even_when_a_subclass_overrides_it(qtbot):
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QWidget

    from nsfw_desktop.gui.actions import Action, ActionSet, handles

    class Part(QObject):
        def __init__(self):
            super().__init__()
            self.calls = []

        @handles(Action.COPY)
        def copy(self):
            self.calls.append("part")

    class Special(Part):
        @handles(Action.COPY)
        def copy(self):
            self.calls.append("special")

    parent = QWidget()
    qtbot.addWidget(parent)
    actions, part = ActionSet(parent), Special()
    actions.bind(part)
    actions[Action.COPY].trigger()
    assert part.calls == ["special"]


def test_durations_read_as_a_person_says_them():
    from nsfw_desktop.gui.scan_controller import duration

    assert [duration(s) for s in (42.4, 185, 3720)] == ["42 s", "3 min 05 s", "1 h 02 min"]


def test_the_window_shows_its_results_before_torch_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from nsfw_desktop.gui.main_window import MainWindow\n"
        "from nsfw_desktop.config.settings import Settings\n"
        f"window = MainWindow(Settings(folders=[{str(tmp_path)!r}]), db_path={str(tmp_path / 'r.db')!r})\n"
        "window.show()\n"
        "while not window.loaded:\n"
        "    app.processEvents()\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "window.close()\n"
        "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})  # the test's home
