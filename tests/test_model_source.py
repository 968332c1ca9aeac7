import pytest

from nsfw_desktop.classify import model_source
from nsfw_desktop.classify.model_source import ModelError
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


def test_without_a_network_the_download_fails_at_once(tmp_path, monkeypatch):
    """huggingface_hub retries for 23 s when the Hub's name cannot be looked up; a host
    name that does not resolve is said at once instead."""
    import socket

    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    for name in model_source.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    downloads = []
    real = huggingface_hub.snapshot_download

    def snapshot_download(*args, local_files_only=False, **kwargs):
        if not local_files_only:
            downloads.append(args)
            raise OSError("the download was tried")
        return real(*args, local_files_only=True, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    with pytest.raises(ModelError, match="huggingface.co cannot be reached") as caught:
        model_source.resolve(None, download=True)
    assert downloads == []
    assert "--model open-nsfw" in str(caught.value)
