"""The fp16 export's network: a `TransformerNet` that computes in half precision behind fp32 I/O.

:func:`half_model` wraps a copy of the model so the exported graph keeps `fastnst.export.IO_SPEC`
(float32 (N, 3, H, W) in and out) while the network runs in fp16, its instance norms in fp32.
"""

from __future__ import annotations

import copy

__all__ = ["half_model"]


def half_model(model):
    """A module with fp32 I/O that runs a copy of `model` in fp16, except instance norms (kept in fp32).

    In: float32 (N, 3, H, W); cast to fp16, run, and the output cast back to float32 (N, 3, H, W).
    ``model`` itself is left as it is.
    """
    import torch  # fastnst[train]'s package, needed only to export
    import torch.nn as nn

    class FloatNorm(nn.Module):
        def __init__(self, norm: nn.Module):
            super().__init__()
            self.norm = norm

        def forward(self, x):
            return self.norm(x.float()).to(x.dtype)

    class HalfWrapper(nn.Module):
        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.to(torch.float16)).to(torch.float32)

    net = copy.deepcopy(model).float().eval()
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                setattr(module, name, FloatNorm(child))
    net.half()
    for module in net.modules():
        if isinstance(module, FloatNorm):
            module.norm.float()
    return HalfWrapper(net).eval()
