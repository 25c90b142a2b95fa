"""Whether the network answers: the fast check before a download (offline, TFDS's and Keras' own
retries take minutes to give up)."""

from __future__ import annotations

import requests

PROBE_TIMEOUT_SECONDS = 5


def online(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """Whether ``url`` answers within ``timeout`` seconds (through HTTPS_PROXY if set)."""
    try:
        requests.head(url, timeout=timeout)
        return True
    except requests.RequestException:
        return False
