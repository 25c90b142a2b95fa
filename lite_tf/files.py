"""Files the tools write: checked output folders, atomic writes and locks (a reader, or a run resumed
after a crash, sees the old file or the whole new one, never a truncated one)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile

from lite_tf.errors import InputError

PARTIAL = ".partial"  # what an unfinished write_atomic file ends with


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
    """Write ``path`` whole or not at all: into a temporary file beside it, then renamed over it.
    A failed write removes the temporary file and leaves any earlier ``path`` as it was; a full
    disk, say, is one line (InputError); a killed process leaves at most a hidden
    ``.<name>.*.partial`` file, which ``remove_partial`` clears."""
    mode = "wb" if isinstance(content, bytes) else "w"
    directory, name = os.path.split(path)
    f = tempfile.NamedTemporaryFile(mode, dir=directory or ".", prefix=f".{name}.",
                                    suffix=PARTIAL, delete=False)
    try:
        with f:
            f.write(content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(f.name, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
        os.replace(f.name, path)
    except BaseException as e:  # a bug or Ctrl-C leaves nothing behind either
        with contextlib.suppress(OSError):
            os.remove(f.name)
        if isinstance(e, OSError):
            raise InputError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def remove_partial(directory: str) -> None:
    """Remove what killed ``write_atomic`` calls left in ``directory``."""
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if name.startswith(".") and name.endswith(PARTIAL):
                os.remove(os.path.join(directory, name))


@contextlib.contextmanager
def locked(path: str):
    """Hold an exclusive lock on the file ``path`` (created if missing) for the ``with`` block:
    one process at a time, on this machine or on a shared disk that supports locks."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def write_json(path: str, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def write_section(path: str, name: str, text: str) -> None:
    """Replace the part of the text file ``path`` between the lines ``<!-- name -->`` and
    ``<!-- /name -->`` with ``text`` (appended, with the markers, when there is none yet)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + ("\n\n" if old.strip() else "") + block + "\n"
    write_atomic(path, new)


def sections(text: str) -> list[str]:
    """The ``<!-- name -->`` ... ``<!-- /name -->`` blocks of ``text`` (``write_section``'s), in order."""
    found, rest = [], text
    while True:
        i = rest.find("<!-- ")
        if i < 0:
            return found
        name = rest[i + 5:rest.find(" -->", i)]
        end = rest.find(f"<!-- /{name} -->", i)
        if name.startswith("/") or end < 0:
            rest = rest[i + 5:]
            continue
        found.append(rest[i:end + len(name) + 10])
        rest = rest[end + len(name) + 10:]
