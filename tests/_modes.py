"""Test helper: a model in train mode (one BatchNorm frozen in eval mode, as a fine-tuner might leave it)
must come back from plotting, scoring and widget calls exactly as it went in, and with its BatchNorm
running statistics untouched (evaluating in train mode would update them)."""

from __future__ import annotations

import torch
from torch import nn


def mixed_mode(model: nn.Module) -> nn.Module:
    """``model`` in train mode, except its first BatchNorm layer (if any), which is in eval mode."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
            break
    return model


class ModeGuard:
    """Snapshot of every submodule's train/eval flag and every buffer; :meth:`check` asserts both are unchanged."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modes = {name: m.training for name, m in model.named_modules()}
        self.buffers = {name: b.detach().clone() for name, b in model.named_buffers()}

    def check(self, what: str) -> None:
        modes = {name: m.training for name, m in self.model.named_modules()}
        changed = [name or "<model>" for name in modes if modes[name] != self.modes[name]]
        assert not changed, f"{what} changed the train/eval mode of {changed}"
        moved = [name for name, b in self.model.named_buffers() if not torch.equal(b, self.buffers[name])]
        assert not moved, f"{what} updated the buffers {moved} (BatchNorm ran in train mode)"
