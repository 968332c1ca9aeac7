"""The settings dialog's rows for videos: screen them or not, the seconds between sampled
frames and the most frames per video."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox

from nsfw_desktop.config.settings import MAX_VIDEO_FRAMES, MAX_VIDEO_INTERVAL, MIN_VIDEO_INTERVAL, Settings
from nsfw_desktop.media.video import DEFAULT_MIN_FRAMES


class VideoSettings:
    def __init__(self) -> None:
        self.screen = QCheckBox("Screen videos in the folders (MP4, MOV, MKV, WebM, AVI, 3GP)")
        self.interval = QDoubleSpinBox(minimum=MIN_VIDEO_INTERVAL, maximum=MAX_VIDEO_INTERVAL, decimals=1,
                                       singleStep=1.0, suffix=" s")
        self.max_frames = QSpinBox(minimum=1, maximum=MAX_VIDEO_FRAMES)
        self.explained = QLabel(
            f"A video is screened on frames spread over its whole length: one every so many "
            f"seconds, at least {DEFAULT_MIN_FRAMES} and at most the number above, and a few more "
            "around its highest-scoring frame when that one is in doubt. More frames miss fewer "
            "short scenes and take longer. Applies to videos screened from now on; with videos "
            "off, the results of videos screened before are kept.", wordWrap=True)
        self.screen.toggled.connect(self._screen_toggled)

    def add_to(self, form: QFormLayout) -> None:
        form.addRow("Videos:", self.screen)
        form.addRow("Seconds between frames:", self.interval)
        form.addRow("Frames per video at most:", self.max_frames)
        form.addRow("", self.explained)

    def fill(self, s: Settings) -> None:
        self.screen.setChecked(s.videos)
        self.interval.setValue(s.video_interval)
        self.max_frames.setValue(s.video_max_frames)
        self._screen_toggled(s.videos)

    def changes(self) -> dict:
        """The edited values, as ``Settings.replace`` takes them."""
        return {"videos": self.screen.isChecked(), "video_interval": round(self.interval.value(), 1),
                "video_max_frames": self.max_frames.value()}

    def _screen_toggled(self, on: bool) -> None:
        self.interval.setEnabled(on)
        self.max_frames.setEnabled(on)
