"""Reading pictures and videos safely: decoding, limits, frames, thumbnails, sample photos."""
