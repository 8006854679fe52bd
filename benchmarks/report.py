"""The generated sections of ``docs/benchmarks.md``: each benchmark's latest tables, between markers.

A section is the text between ``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->``; a run with
``--write-docs`` replaces it (or appends a new one at the end of the file). Text outside the markers is kept."""

from __future__ import annotations

import io
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from vae_helpers.errors import ConfigError

from . import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "benchmarks.md"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"


def write_section(name: str, markdown: str, path: Path | None = None) -> Path:
    """Replace the generated section ``name`` of ``path`` (default :data:`DOCS`) by ``markdown``, or append it if
    the file has none.

    Raises :class:`ConfigError` if the file has one marker of the pair but not the other (a hand edit broke it)."""
    path = DOCS if path is None else path
    begin, end = _markers(name)
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    has_begin, has_end = begin in text, end in text
    if has_begin != has_end:
        raise ConfigError(
            f"{path}: the generated section {name!r} has only its "
            f"{'opening' if has_begin else 'closing'} marker; restore the pair {begin!r} ... {end!r} "
            "(or delete both), then run the benchmark again."
        )
    if has_begin:
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def read_section(name: str, path: Path | None = None) -> str | None:
    """The text of the generated section ``name`` of ``path`` (default :data:`DOCS`) without its markers, or
    ``None`` if the file has none."""
    path = DOCS if path is None else path
    begin, end = _markers(name)
    if not path.exists():
        return None
    found = re.search(re.escape(begin) + r"\n(.*?)\n?" + re.escape(end), path.read_text(), re.DOTALL)
    return None if found is None else found.group(1)


class _Tee(io.TextIOBase):
    """A text stream that writes to ``stream`` and keeps a copy."""

    def __init__(self, stream) -> None:
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def captured_stdout():
    """Print as usual and keep a copy: ``with captured_stdout() as out: ...; out.copy.getvalue()``."""
    tee = _Tee(sys.stdout)
    previous, sys.stdout = sys.stdout, tee
    try:
        yield tee
    finally:
        sys.stdout = previous
