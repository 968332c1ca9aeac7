"""The direct resize and normalise of the balanced and fast precisions equals the processor."""

import json

import numpy as np
import pytest

from nsfw_desktop.classify.preprocess import direct_preparer
from tests.conftest import random_image


@pytest.fixture(scope="module")
def processor(tiny_model):
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(tiny_model, backend="pil")


@pytest.mark.parametrize(("size", "mode"), [((96, 64), "RGB"), ((20, 15), "RGB"), ((1000, 750), "RGB"),
                                            ((333, 517), "L"), ((64, 64), "RGBA")])
def test_direct_preparation_equals_the_processor(tiny_model, processor, size, mode):
    prepare = direct_preparer(json.loads((tiny_model / "preprocessor_config.json").read_text()))
    image = random_image(7, size=size, mode=mode)
    # Decoding hands over RGB frames; the direct path converts anything else the same way.
    expected = processor(images=image.convert("RGB"), return_tensors="np")["pixel_values"][0]
    ours = prepare(image)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    assert np.abs(ours - expected).max() <= 1e-5


def test_processors_that_do_more_keep_the_processor(tiny_model):
    config = json.loads((tiny_model / "preprocessor_config.json").read_text())
    assert direct_preparer(config) is not None
    for changes in ({"do_center_crop": True, "crop_size": {"height": 24, "width": 24}},
                    {"size": {"shortest_edge": 32}}, {"image_processor_type": "ConvNextImageProcessor"}):
        assert direct_preparer({**config, **changes}) is None


def test_balanced_and_fast_prepare_directly_and_exact_does_not(tiny_model):
    from nsfw_desktop.classify import make_classifier

    image = random_image(3, size=(80, 60))
    exact = make_classifier(str(tiny_model), device="cpu")
    balanced = make_classifier(str(tiny_model), device="cpu", precision="balanced")
    for classifier in (exact, balanced):
        classifier.load()
    assert exact._direct is None and balanced._direct is not None
    assert np.abs(balanced.prepare(image).numpy() - exact.prepare(image).numpy()).max() <= 1e-5
