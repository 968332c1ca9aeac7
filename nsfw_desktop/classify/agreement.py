"""How the fast (int8) model agrees with exact: the measured pairs of scores, kept beside the
cached fast model (``AGREEMENT_FILE``), so the agreement can be stated again at any threshold:
on every use of the fast model, in ``models list --available`` and in the app.

The measuring runs photos through the scan pipeline, a layer above this one, so it lives in
``scan.agreement``; a fast classifier is handed it (``make_classifier``'s
``measure_agreement``) and calls it on its first use.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from nsfw_desktop.classify.model_source import ModelError, resolve
from nsfw_desktop.classify.onnx_export import cache_folder
from nsfw_desktop.files.atomic import replaced

log = logging.getLogger(__name__)

AGREEMENT_FILE = "agreement.json"


@dataclass(frozen=True)
class Agreement:
    """The NSFW scores of the same files by exact and by fast, in the same order."""

    exact: tuple[float, ...]
    fast: tuple[float, ...]
    on_user_photos: bool  # False: measured on the sample pictures

    @property
    def count(self) -> int:
        return len(self.exact)

    @property
    def max_difference(self) -> float:
        return max((abs(a - b) for a, b in zip(self.exact, self.fast, strict=True)), default=0.0)

    def agreeing(self, threshold: float) -> int:
        """Files that both models flag, or both leave, at ``threshold``."""
        return sum((a >= threshold) == (b >= threshold) for a, b in zip(self.exact, self.fast, strict=True))

    def describe(self, threshold: float) -> str:
        where = ("of your photos" if self.on_user_photos
                 else "sample pictures (none of your photos had been scanned with this model)")
        return (f"agrees with exact on {self.agreeing(threshold)}/{self.count} {where} at threshold "
                f"{threshold:g}, max difference {self.max_difference:.3f}")

    def save(self, folder: Path) -> None:
        data = {"exact": list(self.exact), "fast": list(self.fast), "on_user_photos": self.on_user_photos}
        with replaced(folder / AGREEMENT_FILE, "w") as out:
            json.dump(data, out)

    @classmethod
    def load(cls, folder: Path) -> Agreement | None:
        """The agreement kept in ``folder``, or None when it was never measured (or is unreadable)."""
        try:
            data = json.loads((folder / AGREEMENT_FILE).read_text())
            return cls(tuple(map(float, data["exact"])), tuple(map(float, data["fast"])),
                       bool(data["on_user_photos"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read %s (%s): the agreement is measured again", folder / AGREEMENT_FILE, exc)
            return None


def kept_agreement(model: str | None) -> Agreement | None:
    """The agreement kept beside the fast model of ``model`` (a --model value), or None when no
    fast model of it was built on this computer. Never downloads anything."""
    try:
        source = resolve(model, download=False)
    except ModelError:
        return None
    return Agreement.load(cache_folder(source)) if source.format == "transformers" else None
