"""Files the tools write: checked output folders and atomic writes (a reader, or a run resumed
after a crash, sees the old file or the whole new one, never a truncated one)."""

from __future__ import annotations

import json
import os
import tempfile

from lite_tf.errors import InputError


def writable_dir(path: str, what: str) -> str:
    """Create ``path`` if needed and check a file can be written in it; else a one-line
    InputError naming ``what`` (e.g. 'workdir')."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise InputError(f"cannot write to {what} {path}: {e.strerror}") from None
    return path


def write_atomic(path: str, content: bytes | str) -> None:
    mode = "wb" if isinstance(content, bytes) else "w"
    directory, name = os.path.split(path)
    with tempfile.NamedTemporaryFile(mode, dir=directory or ".", prefix=f".{name}.",
                                     delete=False) as f:
        f.write(content)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
    os.replace(f.name, path)


def write_json(path: str, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=2) + "\n")
