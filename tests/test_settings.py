import json

import pytest

from nsfw_desktop.config import settings as settings_file
from nsfw_desktop.config.settings import Settings, SettingsError


def test_defaults_when_nothing_saved():
    assert settings_file.load() == Settings()


def test_saved_settings_come_back(tmp_path):
    saved = Settings(folders=[str(tmp_path / "a"), str(tmp_path / "b\udce9")], model="owner/name@rev",
                     threshold=0.73, batch_size=16, blur_mode="placeholder", device="cpu",
                     quarantine_folder=str(tmp_path / "q"), endpoints=["https://gpu.local:8443"],
                     token="secret", remember_token=True, watched_folders=[str(tmp_path / "a")],
                     embeddings=True, videos=False, video_interval=2.5, video_max_frames=48)
    settings_file.save(saved)
    assert settings_file.settings_path().is_file()
    assert settings_file.load() == saved


@pytest.mark.parametrize(("changes", "words"), [
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": "high"}, "threshold"),
    ({"batch_size": 0}, "batch size"),
    ({"batch_size": 2.5}, "batch size"),
    ({"blur_mode": "pixelate"}, "blur mode"),
    ({"device": "tpu"}, "device"),
    ({"endpoints": ["ftp://host"]}, "endpoint"),
    ({"quarantine_folder": "relative/folder"}, "full path"),
    ({"folders": "not a list"}, "folders"),
    ({"model": "  "}, "model"),
    ({"video_interval": 0}, "seconds between video frames"),
    ({"video_interval": "often"}, "seconds between video frames"),
    ({"video_max_frames": 0}, "frames per video"),
    ({"video_max_frames": 1000}, "frames per video"),
    ({"videos": "yes"}, "videos must be true or false"),
])
def test_bad_values_are_refused_with_a_message(changes, words):
    with pytest.raises(SettingsError, match=words):
        Settings().replace(**changes)


def test_replace_leaves_the_original_alone():
    original = Settings()
    with pytest.raises(SettingsError):
        original.replace(threshold=2.0)
    assert original.threshold == 0.5


def test_check_model_names_what_is_wrong(tmp_path):
    Settings(model=str(tmp_path)).check_model()  # an existing folder
    Settings(model="Falconsai/nsfw_image_detection@main").check_model()
    with pytest.raises(SettingsError, match="does not exist"):
        Settings(model=str(tmp_path / "missing")).check_model()
    with pytest.raises(SettingsError, match="Hugging Face id"):
        Settings(model="not an id").check_model()


@pytest.mark.parametrize("content", ["{not json", json.dumps([1, 2]), json.dumps({"threshold": 7}),
                                     json.dumps({"folders": 3})])
def test_an_unusable_file_is_set_aside_not_lost(content):
    path = settings_file.settings_path()
    path.write_text(content)
    settings, problem = settings_file.load_or_defaults()
    assert settings == Settings()
    assert "defaults used" in problem
    kept = path.with_name(path.name + ".invalid")
    assert kept.read_text() == content and not path.exists()


def test_unknown_fields_from_a_newer_version_are_ignored():
    settings_file.settings_path().write_text(json.dumps({"threshold": 0.6, "future_option": 1}))
    assert settings_file.load().threshold == 0.6


def test_default_quarantine_folder_is_in_the_data_folder(isolated_home):
    assert Settings().quarantine_path() == isolated_home / "data" / "quarantine"


def test_precision_is_checked_and_saved():
    with pytest.raises(SettingsError, match="precision must be one of exact, balanced, fast"):
        Settings(precision="turbo")
    settings_file.save(Settings(precision="fast"))
    assert settings_file.load().precision == "fast"


def test_thresholds_are_kept_per_model():
    from nsfw_desktop.classify.catalogue import recommended_threshold

    settings = Settings(threshold=0.7)
    assert settings.threshold_for(None) == 0.7  # the current model's
    assert settings.threshold_for("open-nsfw") == recommended_threshold("open-nsfw")
    switched = settings.replace(model="open-nsfw", threshold=0.3,
                                model_thresholds=settings.thresholds_with("open-nsfw", 0.3))
    assert switched.threshold_for(None) == 0.7 and switched.threshold_for("open-nsfw") == 0.3
    settings_file.save(switched)
    assert settings_file.load() == switched
    with pytest.raises(SettingsError, match="model thresholds"):
        Settings(model_thresholds={"owner/name": 3})


def test_embeddings_are_kept_where_the_model_gives_them(tmp_path):
    assert Settings(embeddings=True).scan_policy().embeddings
    assert Settings(embeddings=True, precision="fast").scan_policy().embeddings  # the int8 ViT's CLS token
    assert Settings(embeddings=True, model="open-nsfw").scan_policy().embeddings  # its pooled features
    Settings(model="open-nsfw").check_model()
    assert not Settings(embeddings=True, endpoints=["https://example.org"]).scan_policy().embeddings
    for name in ("model.onnx", "config.json", "preprocessor_config.json"):
        (tmp_path / name).write_bytes(b"")
    assert not Settings(embeddings=True, model=str(tmp_path)).scan_policy().embeddings  # scores only


def test_video_settings_reach_the_scans():
    chosen = Settings(videos=False, video_interval=2.5, video_max_frames=4)
    assert chosen.scan_policy().videos is False
    options = chosen.decode_options()
    assert (options.video_interval, options.video_max_frames, options.video_min_frames) == (2.5, 4, 4)
    assert Settings().scan_policy().videos and Settings().decode_options().video_max_frames == 32
