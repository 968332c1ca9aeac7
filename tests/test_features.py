"""features.extract against transformers' own outputs, and the attention heatmaps built on it."""

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import ViTForImageClassification

from nsfw_desktop.classify.embedding import EmbeddingClassifier
from nsfw_desktop.classify.features import extract, resolve_layer
from nsfw_desktop.explain.heatmap import cls_weights, explain, explain_frames, overlay, patch_grid, rollout
from tests.conftest import random_image


@pytest.fixture
def loaded(make_classifier):
    """A loaded classifier for the tiny two-layer ViT."""
    classifier = make_classifier()
    classifier.load()
    return classifier


@pytest.fixture
def batch(loaded):
    """Three prepared images of different content."""
    return [loaded.prepare(random_image(seed, size=(64 + 8 * seed, 48))) for seed in range(3)]


def reference_model(folder, attn_implementation):
    """The same checkpoint loaded by transformers on its own, independent of our classifier."""
    return ViTForImageClassification.from_pretrained(
        folder, attn_implementation=attn_implementation).eval()


@pytest.mark.parametrize("layer", [-1, 0, 1, 2])
def test_embeddings_equal_transformers_hidden_states(tiny_model, loaded, batch, layer):
    ours = extract(loaded, batch, embeddings=True, layer=layer)
    model = reference_model(tiny_model, "sdpa")
    with torch.no_grad():
        outputs = model(pixel_values=torch.stack(batch), output_hidden_states=True)
    tokens = model.vit.layernorm(outputs.hidden_states[layer])  # (B, T, D), after the final norm
    assert ours.layer == resolve_layer(loaded, layer)
    assert ours.cls.shape == (3, 32) and ours.mean.shape == (3, 32)
    assert torch.allclose(ours.cls, tokens[:, 0], atol=1e-5)
    assert torch.allclose(ours.mean, tokens[:, 1:].mean(dim=1), atol=1e-5)
    assert torch.allclose(ours.logits, outputs.logits, atol=1e-5)
    assert ours.attentions is None


def test_final_cls_embedding_is_what_the_classifier_head_reads(loaded, batch):
    ours = extract(loaded, batch, embeddings=True)
    with torch.no_grad():
        assert torch.allclose(loaded.model.classifier(ours.cls), ours.logits, atol=1e-5)


def test_attention_maps_equal_transformers_eager_attentions(tiny_model, loaded, batch):
    ours = extract(loaded, batch, attentions=True)
    model = reference_model(tiny_model, "eager")
    with torch.no_grad():
        outputs = model(pixel_values=torch.stack(batch), output_attentions=True)
    tokens = 1 + (32 // 8) ** 2
    assert ours.attentions.shape == (3, 2, 2, tokens, tokens)  # (B, layers, heads, T, T)
    assert torch.allclose(ours.attentions, torch.stack(outputs.attentions, dim=1), atol=1e-6)
    assert torch.allclose(ours.logits, outputs.logits, atol=1e-5)


def test_asking_for_maps_leaves_the_model_on_fused_attention(loaded, batch):
    assert loaded.model.config._attn_implementation == "sdpa"
    extract(loaded, batch, attentions=True)
    assert loaded.model.config._attn_implementation == "sdpa"
    for module in loaded.model.modules():
        if hasattr(module, "config"):
            assert module.config._attn_implementation == "sdpa"
    # The classifier still gives the same scores after maps were drawn.
    before = loaded.predict(batch)
    extract(loaded, batch, attentions=True)
    assert [p.nsfw_score for p in loaded.predict(batch)] == [p.nsfw_score for p in before]


def test_the_eager_twin_shares_the_weights(loaded, batch):
    baseline = extract(loaded, batch, attentions=True).logits
    with torch.no_grad():
        loaded.model.classifier.bias.add_(1.0)  # a change to the model must show in the twin
    try:
        shifted = extract(loaded, batch, attentions=True).logits
    finally:
        with torch.no_grad():
            loaded.model.classifier.bias.sub_(1.0)
    assert torch.allclose(shifted, baseline + 1.0, atol=1e-5)


def test_a_layer_that_does_not_exist_is_refused(loaded, batch):
    with pytest.raises(ValueError, match="this model has 2 layers"):
        extract(loaded, batch, embeddings=True, layer=3)


def test_embedding_classifier_predictions_match_the_plain_ones(loaded, batch):
    plain = loaded.predict(batch)
    embedded = EmbeddingClassifier(loaded, pool="mean").predict(batch)
    assert [p.nsfw_score for p in embedded] == pytest.approx([p.nsfw_score for p in plain], abs=1e-6)
    expected = extract(loaded, batch, embeddings=True).mean.numpy()
    for prediction, vector in zip(embedded, expected, strict=True):
        assert prediction.embedding.dtype == np.float32
        np.testing.assert_allclose(prediction.embedding, vector, atol=1e-6)
    assert plain[0].embedding is None


def test_rollout_rows_sum_to_one():
    rng = np.random.default_rng(0)
    raw = rng.random((4, 3, 10, 10))
    maps = raw / raw.sum(axis=-1, keepdims=True)  # row-stochastic, like softmax attention
    for fusion in ("mean", "max"):
        result = rollout(maps, fusion)
        assert result.shape == (10, 10)
        np.testing.assert_allclose(result.sum(axis=-1), 1.0, atol=1e-12)
        assert (result >= 0).all()


def test_rollout_follows_the_paper_on_a_small_case():
    # One layer, one head: rollout is 0.5 * A + 0.5 * I, rows renormalised (already sum to 1).
    attention = np.array([[[[0.2, 0.8], [0.6, 0.4]]]])
    np.testing.assert_allclose(rollout(attention), [[0.6, 0.4], [0.3, 0.7]])
    # Two identical layers multiply.
    np.testing.assert_allclose(rollout(np.concatenate([attention, attention])),
                               np.array([[0.6, 0.4], [0.3, 0.7]]) @ np.array([[0.6, 0.4], [0.3, 0.7]]))


def test_last_layer_cls_attention_and_head_fusion():
    attention = np.zeros((2, 2, 3, 3))
    attention[-1, 0, 0] = [0.0, 0.25, 0.75]
    attention[-1, 1, 0] = [0.0, 0.75, 0.25]
    np.testing.assert_allclose(cls_weights(attention, "last", "mean"), [0.5, 0.5])
    np.testing.assert_allclose(cls_weights(attention, "last", "max"), [0.75, 0.75])
    with pytest.raises(ValueError, match="method"):
        cls_weights(attention, "gradcam")


def test_patch_grid_scales_to_zero_one():
    heat = patch_grid(np.array([1.0, 3.0, 2.0, 5.0]), (2, 2))
    np.testing.assert_allclose(heat, [[0.0, 0.5], [0.25, 1.0]])
    with pytest.raises(ValueError, match="grid"):
        patch_grid(np.ones(5), (2, 2))


def test_overlay_has_the_image_size_and_follows_opacity():
    image = Image.new("RGB", (101, 37), (10, 200, 30))
    heat = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    assert overlay(image, heat, 0.0).tobytes() == image.tobytes()
    blended = overlay(image, heat, 0.6)
    assert blended.size == (101, 37) and blended.mode == "RGB"
    hot, cold = np.asarray(overlay(image, heat, 1.0))[[0, 0], [100, 0]]
    assert hot[0] > hot[2] and cold[2] > cold[0]  # high attention is red, low is blue
    with pytest.raises(ValueError, match="opacity"):
        overlay(image, heat, 1.5)


@pytest.mark.parametrize("method", ["rollout", "last"])
def test_explain_gives_the_score_and_an_overlay_of_the_image_size(loaded, method):
    image = random_image(7, size=(150, 90))
    explanation = explain(loaded, image, method=method)
    assert explanation.overlay.size == (150, 90)
    assert explanation.heat.shape == (4, 4)
    assert explanation.heat.min() == 0.0 and explanation.heat.max() == 1.0
    expected = loaded.predict([loaded.prepare(image)])[0]
    assert explanation.prediction.nsfw_score == pytest.approx(expected.nsfw_score, abs=1e-5)


def test_explain_frames_picks_the_highest_scoring_frame(loaded):
    frames = [random_image(seed, size=(64, 48)) for seed in range(4)]
    scores = [p.nsfw_score for p in loaded.predict([loaded.prepare(f) for f in frames])]
    explanation = explain_frames(loaded, frames)
    assert explanation.prediction.nsfw_score == pytest.approx(max(scores), abs=1e-5)
