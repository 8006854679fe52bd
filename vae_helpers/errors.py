"""Every error and warning the package raises on bad input, one type per failure family.

Each message names the file or setting, says what is wrong and what to do (docs/troubleshooting.md lists them).
"""

from __future__ import annotations

import warnings


class DataNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found; the message lists every place searched and the fix."""


class CorruptDataError(ValueError):
    """A data or cache file exists but is truncated, damaged or inconsistent; the message names it."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read, has another format, or does not fit the model it is loaded into."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """There is no checkpoint file where one was asked for (also a ``FileNotFoundError``)."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the setting, the value and the valid range."""


class CourseWarning(UserWarning):
    """Base of the course's warnings, shown as ``Name: message`` (no file and line: no local paths in outputs)."""


_default_formatwarning = warnings.formatwarning


def _format_course_warnings(message, category, filename, lineno, line=None) -> str:
    if isinstance(category, type) and issubclass(category, CourseWarning):
        return f"{category.__name__}: {message}\n"
    return _default_formatwarning(message, category, filename, lineno, line)


warnings.formatwarning = _format_course_warnings


class IncompleteCelebAWarning(CourseWarning):
    """Some CelebA images named in the annotation files are absent; the rows present are used."""


class DataSourceWarning(CourseWarning):
    """A configured data location is unusable (e.g. ``VAE_DATA_DIR`` names no folder) and is skipped."""


class PerformanceWarning(CourseWarning):
    """A setting will work but run slowly or be ignored here (e.g. bf16 on a CPU without native bfloat16)."""


class CacheWarning(CourseWarning):
    """A cache cannot be written (read-only folder, disk full): the package goes on without it."""
