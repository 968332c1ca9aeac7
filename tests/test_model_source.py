import pytest

from nsfw_desktop import model_source
from nsfw_desktop.model_source import ModelError
from tests.conftest import build_tiny_vit


def test_local_folder_resolves_with_a_fingerprinted_id(tiny_model):
    source = model_source.resolve(str(tiny_model))
    assert source.folder == tiny_model.resolve()
    assert source.model_id.startswith(str(tiny_model.resolve()) + "#")
    assert model_source.resolve(str(tiny_model)).model_id == source.model_id


def test_pickle_only_folder_is_refused_with_the_reason(tmp_path):
    folder = build_tiny_vit(tmp_path / "pickled", safetensors=False)
    assert (folder / "pytorch_model.bin").exists()
    with pytest.raises(ModelError, match="only pickle weights.*arbitrary code"):
        model_source.resolve(str(folder))


def test_offline_without_cache_names_the_fix():
    with pytest.raises(ModelError) as caught:
        model_source.resolve(None)
    message = str(caught.value)
    assert "nsfw-desktop models pull Falconsai/nsfw_image_detection" in message
    assert "--model" in message and "--model open-nsfw" in message  # a model that works offline


def test_missing_folder_and_bad_ids(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        model_source.resolve(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="neither a model folder nor"):
        model_source.resolve("not a valid id!")


def test_folder_without_preprocessor_config_is_refused(tmp_path):
    folder = build_tiny_vit(tmp_path / "m")
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ModelError, match="preprocessor_config.json"):
        model_source.resolve(str(folder))


def test_cached_hub_snapshot_is_used_offline(tmp_path, monkeypatch):
    """A repo laid out in the HF cache (as `models pull` leaves it) resolves offline."""
    import shutil

    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = constants.HF_HUB_CACHE + "/models--someone--tiny"
    snapshot = tmp_path / "snap"
    build_tiny_vit(snapshot)
    shutil.copytree(snapshot, f"{repo}/snapshots/{commit}")
    import os

    os.makedirs(f"{repo}/refs", exist_ok=True)
    with open(f"{repo}/refs/main", "w") as handle:
        handle.write(commit)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    source = model_source.resolve("someone/tiny")
    assert source.model_id == f"someone/tiny@{commit[:12]}"
    assert [m.repo_id for m in model_source.list_cached()] == ["someone/tiny"]
