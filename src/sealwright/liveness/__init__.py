"""Liveness checks for the video channel (SPEC C3): a provider port, the built-in offline
provider (OpenCV Haar cascades shipped inside ``opencv-python-headless``, video decoded by
PyAV), and an adapter point for a commercial vendor. See ``docs/channel-video.md``."""
