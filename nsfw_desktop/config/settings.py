"""The user's settings, kept as JSON in the platformdirs config folder.

Qt-free so the CLI, the watcher and the server can read the same file. Every
value is checked when settings are built, loaded or changed: a bad value is
refused with a ``SettingsError`` whose message names the field and says what is
allowed. A settings file that cannot be read is set aside (never deleted) and
the defaults are used, so a hand-edit gone wrong loses nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from nsfw_desktop.classify import ModelSpec, catalogue
from nsfw_desktop.classify.model_source import DEFAULT_MODEL, OPEN_NSFW
from nsfw_desktop.classify.precision import DEFAULT_PRECISION, PRECISIONS
from nsfw_desktop.files import atomic, paths
from nsfw_desktop.media import video
from nsfw_desktop.scan.types import DecodeOptions, ScanPolicy
from nsfw_desktop.xmp.keywords import DEFAULT_ROOT, NAMINGS, TagOptions, check_root

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"
BLUR_MODES = ("blur", "placeholder", "show")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_BATCH_SIZE = 256
MIN_VIDEO_INTERVAL, MAX_VIDEO_INTERVAL = 0.5, 600.0  # seconds between a video's sampled frames
MAX_VIDEO_FRAMES = 256
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")


class SettingsError(ValueError):
    """A settings value that cannot be used; the message is for the user."""


@dataclass
class Settings:
    folders: list[str] = field(default_factory=list)  # folders to screen, absolute
    model: str | None = None  # None: the default model; else a local folder or a Hub id
    endpoints: list[str] = field(default_factory=list)  # remote classifier URLs; used instead of model
    token: str | None = None  # bearer token for the remote endpoints; saved only with remember_token
    remember_token: bool = False  # opt-in: write the token to the (owner-only) settings file
    device: str = "auto"
    precision: str = DEFAULT_PRECISION  # exact, balanced or fast (classify.precision)
    threshold: float = 0.5  # NSFW score from which a file is flagged, for the current model
    # The threshold last chosen for each model (by --model value, the default model by its id),
    # so that switching back to a model brings its threshold back.
    model_thresholds: dict[str, float] = field(default_factory=dict)
    batch_size: int = 8
    blur_mode: str = "blur"  # how flagged thumbnails are shown until revealed
    quarantine_folder: str = ""  # empty: "quarantine" in the app's data folder
    watched_folders: list[str] = field(default_factory=list)  # folders rescanned when they change
    embeddings: bool = False  # opt-in: keep image embeddings for "Find similar"
    notify_flagged: bool = True  # tray notification when a watched folder receives a flagged file
    auto_quarantine: bool = False  # move newly arrived flagged files of watched folders to quarantine
    xmp_sidecars: bool = False  # keep tags in XMP sidecars up to date (scans, reviews, threshold, quarantine)
    xmp_root: str = DEFAULT_ROOT  # the keywords' root: NSFW|flagged, NSFW/reviewed safe...
    xmp_naming: str = "darktable"  # a new sidecar's name: photo.jpg.xmp (darktable), photo.xmp (lightroom)
    videos: bool = True  # screen video files, on frames sampled over each
    video_interval: float = video.DEFAULT_INTERVAL  # seconds between a video's sampled frames
    video_max_frames: int = video.DEFAULT_MAX_FRAMES  # however long the video

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise SettingsError naming the first value that cannot be used."""
        for name in ("folders", "endpoints", "watched_folders"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise SettingsError(f"{name} must be a list of non-empty texts")
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise SettingsError("the model must be a local folder or a Hugging Face id, or empty "
                                "for the default model")
        for url in self.endpoints:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise SettingsError(f"the endpoint {url!r} is not an http:// or https:// address")
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise SettingsError("the token must be a non-empty text, or empty for none")
        if self.device not in DEVICES:
            raise SettingsError(f"the device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.precision not in PRECISIONS:
            raise SettingsError(f"the precision must be one of {', '.join(PRECISIONS)}, "
                                f"not {self.precision!r}")
        if not _is_threshold(self.threshold):
            raise SettingsError(f"the threshold must be a number from 0 to 1, not {self.threshold!r}")
        if not isinstance(self.model_thresholds, dict) or not all(
                isinstance(k, str) and k and _is_threshold(v) for k, v in self.model_thresholds.items()):
            raise SettingsError("model thresholds must map model names to numbers from 0 to 1")
        if (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                or not 1 <= self.batch_size <= MAX_BATCH_SIZE):
            raise SettingsError(f"the batch size must be a whole number from 1 to {MAX_BATCH_SIZE}, "
                                f"not {self.batch_size!r}")
        if self.blur_mode not in BLUR_MODES:
            raise SettingsError(f"the blur mode must be one of {', '.join(BLUR_MODES)}, "
                                f"not {self.blur_mode!r}")
        if not isinstance(self.quarantine_folder, str):
            raise SettingsError("the quarantine folder must be a folder path")
        if self.quarantine_folder and not os.path.isabs(os.path.expanduser(self.quarantine_folder)):
            raise SettingsError(f"the quarantine folder must be a full path, not "
                                f"{self.quarantine_folder!r}")
        problem = check_root(self.xmp_root)
        if problem:
            raise SettingsError(problem)
        if self.xmp_naming not in NAMINGS:
            raise SettingsError(f"the sidecar naming must be one of {', '.join(NAMINGS)}, "
                                f"not {self.xmp_naming!r}")
        if (isinstance(self.video_interval, bool) or not isinstance(self.video_interval, (int, float))
                or not MIN_VIDEO_INTERVAL <= self.video_interval <= MAX_VIDEO_INTERVAL):
            raise SettingsError(f"the seconds between video frames must be a number from "
                                f"{MIN_VIDEO_INTERVAL} to {MAX_VIDEO_INTERVAL}, not {self.video_interval!r}")
        if (isinstance(self.video_max_frames, bool) or not isinstance(self.video_max_frames, int)
                or not 1 <= self.video_max_frames <= MAX_VIDEO_FRAMES):
            raise SettingsError(f"the frames per video must be a whole number from 1 to {MAX_VIDEO_FRAMES}, "
                                f"not {self.video_max_frames!r}")
        for name in ("remember_token", "embeddings", "notify_flagged", "auto_quarantine", "xmp_sidecars",
                     "videos"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name.replace('_', ' ')} must be true or false")

    def check_model(self) -> None:
        """Stricter check for the settings dialog: the model names something that can exist."""
        if self.model is None or self.model == OPEN_NSFW:
            return
        expanded = Path(self.model).expanduser()
        if expanded.is_dir():
            return
        if self.model.startswith((".", "/", "~")) or os.sep in self.model.replace("/", ""):
            raise SettingsError(f"the model folder {self.model!r} does not exist")
        if not _HUB_ID.match(self.model):
            raise SettingsError(f"{self.model!r} is neither an existing folder nor a Hugging Face "
                                "id like owner/name or owner/name@revision")

    def threshold_for(self, model: str | None) -> float:
        """The threshold to propose for ``model``: the current one for the current model, the one
        last chosen for it, or else the catalogue's recommendation."""
        key = _model_key(model)
        if key == _model_key(self.model):
            return self.threshold
        return self.model_thresholds.get(key, catalogue.recommended_threshold(model))

    def thresholds_with(self, model: str | None, threshold: float) -> dict[str, float]:
        """``model_thresholds`` remembering the current model's threshold and ``threshold`` for
        ``model``: what to store when the user picks ``model`` with ``threshold``."""
        return {**self.model_thresholds, _model_key(self.model): self.threshold,
                _model_key(model): threshold}

    def replace(self, **changes) -> Settings:
        """A checked copy with ``changes``; raises SettingsError and leaves self as it was."""
        return dataclasses.replace(self, **changes)

    def scan_policy(self) -> ScanPolicy:
        """What scans of the app and the watcher keep with these settings. Embeddings are
        kept only with a model that gives them (``ModelSpec.embeddings``): not a remote
        endpoint or an ONNX model folder. Sidecars follow the scan's results when "Keep tags in
        XMP sidecars up to date" is on."""
        gives = ModelSpec.of(self).embeddings
        return ScanPolicy(embeddings=self.embeddings and gives, videos=self.videos,
                          sidecars=self.tag_options() if self.xmp_sidecars else None)

    def tag_options(self) -> TagOptions:
        """How keywords go into XMP sidecars with these settings (quarantined files get none)."""
        return TagOptions(threshold=self.threshold, root=self.xmp_root, naming=self.xmp_naming,
                          quarantine=str(self.quarantine_path()))

    def decode_options(self) -> DecodeOptions:
        """How scans of the app and the watcher decode: the batch size, and how videos are sampled
        (a cap under the usual minimum of frames lowers the minimum too)."""
        return DecodeOptions(batch_size=self.batch_size, video_interval=self.video_interval,
                             video_max_frames=self.video_max_frames,
                             video_min_frames=min(video.DEFAULT_MIN_FRAMES, self.video_max_frames))

    def folders_to_watch(self) -> list[str]:
        """The ticked folders that are still in the folder list."""
        return [f for f in self.watched_folders if f in self.folders]

    def quarantine_path(self) -> Path:
        if self.quarantine_folder:
            return Path(self.quarantine_folder).expanduser()
        return paths.data_dir() / "quarantine"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Settings:
        if not isinstance(data, dict):
            raise SettingsError("the settings file does not hold a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            # A newer version may have written them; keep going with what we know.
            log.warning("ignoring unknown settings: %s", ", ".join(unknown))
        if data.get("token") and "remember_token" not in data:
            data = {**data, "remember_token": True}  # saved before the choice existed: it was wanted
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise SettingsError(f"the settings file is malformed ({exc})") from None


def _model_key(model: str | None) -> str:
    return model or DEFAULT_MODEL


def _is_threshold(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def settings_path() -> Path:
    return paths.config_dir() / FILE_NAME


def load(path: Path | None = None) -> Settings:
    """The saved settings, or the defaults when there are none. Raises SettingsError
    (the file is left in place) when the file cannot be read or holds a bad value."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc})") from None
    return Settings.from_json(data)


def load_or_defaults(path: Path | None = None) -> tuple[Settings, str | None]:
    """The saved settings, or the defaults and a message saying why they could not be used.
    An unusable file is renamed to ``settings.json.invalid`` so the next save cannot lose it."""
    path = path or settings_path()
    try:
        return load(path), None
    except SettingsError as exc:
        kept = path.with_name(path.name + ".invalid")
        try:
            os.replace(path, kept)
        except OSError:
            return Settings(), f"Settings not loaded, defaults used: {exc}"
        return Settings(), f"Settings not loaded, defaults used: {exc}. The file was kept as {kept}."


def save(settings: Settings, path: Path | None = None) -> None:
    """Write atomically, so a crash never leaves a half-written settings file.

    The token is written only when the user asked to remember it; otherwise it lives
    in memory for the session. The file is readable by its owner only either way
    (mkstemp creates it 0600), as it may hold the token.
    """
    settings.validate()
    data = settings.to_json()
    if not settings.remember_token:
        data["token"] = None
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # 0600 is mkstemp's mode already; explicit, as the token may be in it.
    with atomic.replaced(path, "w", permissions=0o600, encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
