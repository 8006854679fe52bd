"""Every file the package loads is read without running code, every file it saves is written atomically,
and a file of the wrong kind is refused with a message that sends the user the right way."""

from __future__ import annotations

import ast
import os
import tempfile
from pathlib import Path

import pytest
import torch

import vae_helpers
from vae_helpers.atomic import atomic_write, atomic_write_bytes
from vae_helpers.checkpoints import read_checkpoint, save_checkpoint
from vae_helpers.errors import CheckpointError
from vae_helpers.models import MLPVAE

PACKAGE = Path(vae_helpers.__file__).parent


def unsafe_loads(source: str, filename: str = "<source>") -> list[str]:
    """``file:line`` of every ``torch.load`` call without ``weights_only=True`` and of every ``weights_only=False``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        flags = {k.arg: k.value for k in node.keywords}
        flag = flags.get("weights_only")
        if isinstance(flag, ast.Constant) and flag.value is False:
            found.append(f"{filename}:{node.lineno}: weights_only=False")
        func = node.func
        is_torch_load = (
            isinstance(func, ast.Attribute)
            and func.attr == "load"
            and isinstance(func.value, ast.Name)
            and func.value.id == "torch"
        )
        if is_torch_load and not (isinstance(flag, ast.Constant) and flag.value is True):
            found.append(f"{filename}:{node.lineno}: torch.load without weights_only=True")
    return found


def test_the_scan_finds_unsafe_loads():
    source = (
        "import torch\n"
        "a = torch.load('x')\n"
        "b = torch.load('x', weights_only=False)\n"
        "c = other(weights_only=False)\n"
        "d = torch.load('x', map_location='cpu', weights_only=True)\n"
    )
    assert unsafe_loads(source) == [
        "<source>:2: torch.load without weights_only=True",
        "<source>:3: weights_only=False",
        "<source>:3: torch.load without weights_only=True",
        "<source>:4: weights_only=False",
    ]


def test_no_load_in_the_package_can_run_code_from_a_file():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += unsafe_loads(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert not found, "loads that can run code from a file:\n" + "\n".join(found)


def test_a_checkpoint_without_a_format_field_is_explained_not_sent_to_update(tmp_path):
    path = tmp_path / "handmade.pt"
    torch.save({"model_state": MLPVAE(latent_dim=2).state_dict(), "model_config": {"name": "MLPVAE"}}, path)
    with pytest.raises(CheckpointError, match=r"no `format` field.*save_checkpoint") as err:
        read_checkpoint(path)
    assert "Update the course" not in str(err.value)
    path = tmp_path / "edited.pt"
    save_checkpoint(path, MLPVAE(latent_dim=2), format="1")
    with pytest.raises(CheckpointError, match=r"format '1'.*whole number") as err:
        read_checkpoint(path)
    assert "Update the course" not in str(err.value)


def test_atomic_write_uses_a_unique_temporary_file_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "file.bin"
    names = []
    real_mkstemp = tempfile.mkstemp

    def recording_mkstemp(**kwargs):
        fd, name = real_mkstemp(**kwargs)
        names.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", recording_mkstemp)
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask, "the file keeps mkstemp's owner-only permissions"
    assert len(set(names)) == 2 and all(Path(n).parent == target.parent for n in names)

    def fail(handle):
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"], "a temporary file was left behind"
