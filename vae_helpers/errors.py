"""Every error and warning the package raises on bad input, one type per failure family.

Each message names the file or setting, says what is wrong and what to do; the README's
troubleshooting table lists them. Import them from here (the modules that raise them re-export
them too, so ``from vae_helpers.data import DataNotFoundError`` keeps working).

| type | family |
| --- | --- |
| :class:`DataNotFoundError` | no usable copy of a dataset was found |
| :class:`CorruptDataError` | a data or cache file exists but is truncated, damaged or inconsistent |
| :class:`CheckpointError` | a checkpoint cannot be read, is of another format, or does not fit |
| :class:`TrainingDivergedError` | the training or validation loss became NaN or infinite |
| :class:`ConfigError` | a setting (a config field or argument) has an invalid value |
"""

from __future__ import annotations


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


class IncompleteCelebAWarning(UserWarning):
    """Some CelebA images named in the annotation files are absent; the rows present are used."""


class DataSourceWarning(UserWarning):
    """A configured data location is unusable (e.g. ``VAE_DATA_DIR`` names no folder) and is skipped."""


class CacheWarning(UserWarning):
    """A cache cannot be written (read-only folder, disk full): the package goes on without it."""
