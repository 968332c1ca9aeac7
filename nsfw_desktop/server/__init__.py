"""``nsfw-desktop serve``: the Hugging Face image-classification contract over a local model."""

from nsfw_desktop.server.service import InferenceService, ServerConfig, create_app

__all__ = ["InferenceService", "ServerConfig", "create_app"]
