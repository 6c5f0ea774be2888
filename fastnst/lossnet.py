"""Loss networks: frozen VGG feature extractors that return named activations.

One spec string picks the network everywhere (``--loss-net SPEC``; default from the
environment variable ``FASTNST_LOSS_NET``, else ``vgg16``):

=================================  ===========================================================
``vgg16`` / ``vgg19``              torchvision's ImageNet weights, through its weights API and
                                   cache (downloaded on first use where there is internet)
``vgg16:PATH`` / ``vgg19:PATH``    a torchvision-format state_dict file
``vgg19-normalised:PATH``          the normalised VGG-19 of Gatys et al. in the AdaIN/WCT
                                   ``nn.Sequential`` layout, full or truncated
``vgg19-normalised+random-deep:PATH``  the same, extended with seeded random layers up to
                                   conv5_1 where the file stops earlier
``random-vgg16[:SEED]`` / ``random-vgg19[:SEED]``  randomly initialised (tests, experiments)
=================================  ===========================================================

Every network takes float RGB (N, 3, H, W) in [0, 1]; the preprocessing each set of weights
was trained with (ImageNet mean/std, or Caffe BGR x 255 folded into a 1x1 conv) happens
inside, and nowhere else in the project.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

import torch
from torch import nn

from .config import loss_net_file
from .errors import UserError

ENV_VAR = "FASTNST_LOSS_NET"
DEFAULT_SPEC = "vgg16"

# torchvision's VGG configurations: channel counts, "M" = max pool.
_VGG_CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

_DEFAULT_LAYERS = {  # (style layers, content layer)
    "vgg16": (("relu1_2", "relu2_2", "relu3_3", "relu4_3"), "relu2_2"),  # Johnson et al. 2016
    "vgg19": (("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), "relu4_2"),  # Gatys et al.
}

_RANDOM_DEEP_SEED = 0


@dataclass(frozen=True)
class LossNetSpec:
    """A parsed ``--loss-net`` string."""

    kind: str  # "torchvision", "normalised" or "random"
    arch: str  # "vgg16" or "vgg19"
    path: str | None = None
    seed: int = 0
    random_deep: bool = False
    text: str = ""


def portable_spec(text: str) -> str:
    """A spec with its weight file's folder dropped (``vgg16:/a/b/w.pth`` -> ``vgg16:w.pth``),
    for what is stored in model files: they never carry a machine's path."""
    path = loss_net_file(text)
    return f"{text.partition(':')[0]}:{os.path.basename(path)}" if path else text


def weights_sha256(text: str) -> str | None:
    """The SHA-256 (hex) of a spec's weight file, recorded beside :func:`portable_spec` so a model file
    names its loss network exactly without a path; None for specs without a file (``vgg16``, random)."""
    path = loss_net_file(text)
    if path is None or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_spec() -> str:
    """The loss-network spec used when none is given: ``$FASTNST_LOSS_NET`` or ``vgg16``."""
    return os.environ.get(ENV_VAR) or DEFAULT_SPEC


def parse_spec(text: str | None) -> LossNetSpec:
    """Parse a loss-network spec string; raises UserError on anything unknown."""
    text = (text or default_spec()).strip()
    name, sep, arg = text.partition(":")
    if name in ("vgg16", "vgg19"):
        return LossNetSpec("torchvision", name, path=loss_net_file(text), text=text)
    if name in ("vgg19-normalised", "vgg19-normalised+random-deep"):
        path = loss_net_file(text)
        if path is None:
            raise UserError(f"loss net '{text}' needs a file: {name}:PATH")
        return LossNetSpec("normalised", "vgg19", path=path, random_deep=name.endswith("+random-deep"), text=text)
    if name in ("random-vgg16", "random-vgg19"):
        try:
            seed = int(arg) if sep else 0
        except ValueError:
            raise UserError(f"loss net '{text}': the seed must be an integer") from None
        return LossNetSpec("random", name.removeprefix("random-"), seed=seed, text=text)
    raise UserError(
        f"unknown loss net '{text}'; use vgg16, vgg19, vgg16:PATH, vgg19:PATH, vgg19-normalised:PATH, "
        "vgg19-normalised+random-deep:PATH, random-vgg16[:SEED] or random-vgg19[:SEED]"
    )


# ----------------------------------------------------------------------------- building layers


def _vgg_layers(cfg: list, normalised: bool) -> tuple[nn.Sequential, list[str]]:
    """VGG feature layers and their names (conv1_1, relu1_1, ..., pool1, ...).

    ``normalised`` builds the AdaIN/WCT layout: a leading 1x1 conv (Caffe preprocessing),
    reflection padding before each 3x3 conv, and ceil-mode pooling; otherwise torchvision's.
    """
    layers: list[nn.Module] = []
    names: list[str] = []
    if normalised:
        layers.append(nn.Conv2d(3, 3, 1))
        names.append("preprocess")
    block, idx, cin = 1, 1, 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=normalised))
            names.append(f"pool{block}")
            block, idx = block + 1, 1
            continue
        if normalised:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, v, 3)]
            names += [f"pad{block}_{idx}", f"conv{block}_{idx}"]
        else:
            layers.append(nn.Conv2d(cin, v, 3, padding=1))
            names.append(f"conv{block}_{idx}")
        layers.append(nn.ReLU())
        names.append(f"relu{block}_{idx}")
        cin, idx = v, idx + 1
    return nn.Sequential(*layers), names


class LossNet(nn.Module):
    """A frozen VGG trunk that returns the activations of named layers.

    Args:
        features: the VGG layers in order, truncated where the weights (or the request) stop.
        names: the name of each layer in ``features`` (``relu3_1``, ...).
        mean, std: per-channel normalisation applied to the [0, 1] input (ImageNet for
            torchvision weights; identity where the network folds it in).
        style_layers, content_layer: the defaults for this network.
        spec: the spec string it was built from, recorded in checkpoints and metadata.
    """

    def __init__(self, features: nn.Sequential, names: list[str], mean, std,
                 style_layers: tuple[str, ...], content_layer: str, spec: str = ""):
        super().__init__()
        self.features = features
        self.names = list(names)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.style_layers = tuple(style_layers)
        self.content_layer = content_layer
        self.spec = spec
        self.requires_grad_(False)
        self.eval()

    @property
    def layers(self) -> list[str]:
        """The ReLU layers this network can return."""
        return [n for n in self.names if n.startswith("relu")]

    def check_layers(self, layers) -> None:
        """Raise UserError if any of ``layers`` is not available in this network."""
        missing = [layer for layer in dict.fromkeys(layers) if layer not in self.names]
        if missing:
            raise UserError(
                f"loss net '{self.spec}' has no layer {', '.join(missing)}; it has {', '.join(self.layers)}"
            )

    def truncate(self, layers) -> LossNet:
        """Drop every layer after the deepest of ``layers``, so no compute is wasted."""
        self.check_layers(layers)
        last = max(self.names.index(layer) for layer in layers)
        self.features = self.features[: last + 1]
        self.names = self.names[: last + 1]
        return self

    def train(self, mode: bool = True) -> LossNet:
        return super().train(False)  # always frozen: never switches to training mode

    def forward(self, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` for images ``x`` of shape (N, 3, H, W) in [0, 1].

        Returns a dict layer name -> (N, C_l, H_l, W_l) tensor.
        """
        wanted = set(layers)
        self.check_layers(wanted)
        out: dict[str, torch.Tensor] = {}
        h = (x - self.mean) / self.std
        for name, layer in zip(self.names, self.features):
            h = layer(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out


# ----------------------------------------------------------------------------- weight sources


def _torchvision_weights(arch: str):
    from torchvision.models import VGG16_Weights, VGG19_Weights  # lazily: seconds to import, for vgg16 / vgg19 only

    return {"vgg16": VGG16_Weights.IMAGENET1K_V1, "vgg19": VGG19_Weights.IMAGENET1K_V1}[arch]


def torchvision_cache_path(arch: str) -> str:
    """Where torchvision's weights API caches the ImageNet weights of ``arch``."""
    url = _torchvision_weights(arch).url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def _load_state_dict(path: str) -> dict:
    if not os.path.isfile(path):
        raise UserError(f"loss-net weights file not found: '{path}'")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated zip files, ...
        raise UserError(f"cannot read loss-net weights '{path}': {type(e).__name__}: {e}") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UserError(f"'{path}' is not a state_dict of tensors")
    return sd


def _torchvision_state_dict(spec: LossNetSpec) -> dict:
    if spec.path:
        return _load_state_dict(spec.path)
    weights = _torchvision_weights(spec.arch)
    cache = torchvision_cache_path(spec.arch)
    try:
        if not os.path.exists(cache):
            _check_reachable(weights.url)  # fail in one line before torch.hub announces a download
        return weights.get_state_dict(progress=True)
    except Exception as e:  # URLError, socket errors, partial downloads
        raise UserError(
            f"cannot get the ImageNet weights for '{spec.arch}' ({type(e).__name__}); no cached file at '{cache}'. "
            f"Put the file there, or pass --loss-net {spec.arch}:PATH (a torchvision state_dict), "
            "vgg19-normalised:PATH (AdaIN/WCT vgg_normalised.pth) or random-vgg19 (untrained, weak)"
        ) from None


def _check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raise OSError if the host of ``url`` cannot be reached (no network, no DNS)."""
    host = urlparse(url).hostname
    with socket.create_connection((host, 443), timeout=timeout):
        pass


def _load_prefix(features: nn.Sequential, names: list[str], sd: dict, source: str) -> int:
    """Copy weights from ``sd`` (keys ``"<index>.weight"``) into the convs of ``features``.

    Returns the index of the last layer that got weights; a gap or a shape mismatch is a
    UserError.
    """
    last = -1
    for i, layer in enumerate(features):
        if not isinstance(layer, nn.Conv2d):
            continue
        w, b = sd.get(f"{i}.weight"), sd.get(f"{i}.bias")
        if w is None:
            break
        if w.shape != layer.weight.shape or b is None or b.shape != layer.bias.shape:
            raise UserError(f"'{source}' does not match the expected VGG layout at layer {i} ({names[i]})")
        with torch.no_grad():
            layer.weight.copy_(w)
            layer.bias.copy_(b)
        last = i
    extra = [k for k in sd if k.split(".")[0].isdigit() and int(k.split(".")[0]) > last]
    if last < 0 or extra:
        raise UserError(f"'{source}' does not match the expected VGG layout (keys {sorted(sd)[:4]}...)")
    return last + (1 if last + 1 < len(features) and isinstance(features[last + 1], nn.ReLU) else 0)


def _random_init_(layers) -> None:
    for m in layers:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)


def build_loss_net(spec: str | None = None, style_layers=None, content_layer: str | None = None) -> LossNet:
    """Build the frozen loss network named by ``spec`` (see the module docstring).

    Args:
        spec: the spec string; None uses :func:`default_spec`.
        style_layers, content_layer: the layers the loss will use; None picks the
            network's defaults. They are stored on the returned net, which is truncated
            after the deepest of them (a UserError if the weights do not reach one).
    Returns:
        A :class:`LossNet` on the CPU, in eval mode, with ``requires_grad`` off.
    """
    s = parse_spec(spec)
    with torch.random.fork_rng(devices=[]):  # layer construction and random init leave the global RNG alone
        net = _build(s)
    return _finish(net, style_layers, content_layer)


def _build(s: LossNetSpec) -> LossNet:
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    identity = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    style, content = _DEFAULT_LAYERS[s.arch]

    if s.kind == "normalised":
        features, names = _vgg_layers(_VGG_CFG["vgg19"], normalised=True)
        last = _load_prefix(features, names, _load_state_dict(s.path), s.path)
        real = [n for n in names[: last + 1] if n.startswith("relu")]  # layers with trained weights
        if s.random_deep and names.index("relu5_1") > last:
            stop = names.index("relu5_1")
            torch.manual_seed(_RANDOM_DEEP_SEED)
            _random_init_(features[last + 1: stop + 1])
            last = stop
        features, names = features[: last + 1], names[: last + 1]
        style = tuple(layer for layer in style if layer in names) or (real[-1],)
        if content not in real:  # truncated file: content from the deepest trained layer
            content = real[-1]
        return LossNet(features, names, *identity, style, content, s.text)

    features, names = _vgg_layers(_VGG_CFG[s.arch], normalised=False)
    if s.kind == "random":
        torch.manual_seed(s.seed)
        _random_init_(features)
    else:
        sd = _torchvision_state_dict(s)
        sd = {k.removeprefix("features."): v for k, v in sd.items() if k.startswith("features.") or k[0].isdigit()}
        _load_prefix(features, names, sd, s.path or torchvision_cache_path(s.arch))
    return LossNet(features, names, *imagenet, style, content, s.text)


def _finish(net: LossNet, style_layers, content_layer) -> LossNet:
    if style_layers:
        net.style_layers = tuple(style_layers)
    if content_layer:
        net.content_layer = content_layer
    return net.truncate((*net.style_layers, net.content_layer))
