import socket

import pytest
import torch
import torchvision
from torch import nn

from fastnst.errors import UserError
from fastnst.lossnet import build_loss_net, parse_spec, torchvision_cache_path

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def adain_vgg_reference(n_convs: int) -> nn.Sequential:
    """The AdaIN/WCT normalised VGG-19 layout, written out independently of fastnst."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
    layers, cin, convs = [nn.Conv2d(3, 3, 1)], 3, 0
    for v in cfg:
        if convs == n_convs:
            break
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
        else:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, v, 3), nn.ReLU()]
            cin, convs = v, convs + 1
    return nn.Sequential(*layers)


def test_parse_spec():
    assert parse_spec("vgg16").kind == "torchvision"
    s = parse_spec("vgg19:/x/y.pth")
    assert (s.arch, s.path) == ("vgg19", "/x/y.pth")
    s = parse_spec("vgg19-normalised+random-deep:/w.pth")
    assert s.kind == "normalised" and s.random_deep and s.path == "/w.pth"
    assert parse_spec("random-vgg16:7").seed == 7
    for bad in ("resnet50", "random-vgg19:x", "vgg19-normalised"):
        with pytest.raises(UserError):
            parse_spec(bad)


def test_default_spec_from_environment(monkeypatch):
    monkeypatch.setenv("FASTNST_LOSS_NET", "random-vgg16:3")
    assert parse_spec(None).text == "random-vgg16:3"
    monkeypatch.delenv("FASTNST_LOSS_NET")
    assert parse_spec(None).text == "vgg16"


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A torchvision-format VGG16 state_dict (random weights; features only, to keep it small)."""
    torch.manual_seed(0)
    model = torchvision.models.vgg16()
    path = tmp_path_factory.mktemp("w") / "vgg16.pth"
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)
    return path, model.features.eval()


def test_torchvision_file_matches_torchvision(vgg16_file):
    path, features = vgg16_file
    net = build_loss_net(f"vgg16:{path}")
    assert net.style_layers == ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    assert net.content_layer == "relu2_2"
    assert net.names[-1] == "relu4_3"  # truncated after the deepest default layer
    x = torch.rand(1, 3, 40, 48)
    out = net(x, ["relu2_2", "relu4_3"])
    with torch.no_grad():
        ref = features[:23]((x - IMAGENET_MEAN) / IMAGENET_STD)  # index 22 is relu4_3
    torch.testing.assert_close(out["relu4_3"], ref)
    assert out["relu2_2"].shape == (1, 128, 20, 24)


def test_torchvision_cache_is_used(vgg16_file, tmp_path, monkeypatch):
    path, _ = vgg16_file
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = torchvision_cache_path("vgg16")
    assert cache.startswith(str(tmp_path))
    import os
    import shutil
    os.makedirs(os.path.dirname(cache))
    shutil.copy(path, cache)
    net = build_loss_net("vgg16")
    ref = build_loss_net(f"vgg16:{path}")
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(net(x, ["relu3_3"])["relu3_3"], ref(x, ["relu3_3"])["relu3_3"])


def test_offline_error_names_cache_path(tmp_path, monkeypatch):
    """Without a cached file, the host is tried first (a socket connection): offline, that is a
    one-line error, and torch.hub never starts a download (which would print a progress bar)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    connections, downloads = [], []

    def offline(address, *args, **kwargs):
        connections.append(address)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: offline(address))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, *a, **k: downloads.append(url))
    with pytest.raises(UserError) as e:
        build_loss_net("vgg19")
    assert connections == [("download.pytorch.org", 443)] and downloads == []
    msg = str(e.value)
    assert msg.startswith("cannot get the ImageNet weights for 'vgg19' (OSError)") and "\n" not in msg
    assert torchvision_cache_path("vgg19") in msg and "vgg19-normalised:PATH" in msg


def test_normalised_truncated_file_matches_reference(normalised_vgg):
    net = build_loss_net(f"vgg19-normalised:{normalised_vgg}")
    assert net.layers == ["relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1"]
    assert net.style_layers == ("relu1_1", "relu2_1", "relu3_1")
    assert net.content_layer == "relu3_1"
    ref = adain_vgg_reference(5)
    ref.load_state_dict(torch.load(normalised_vgg, weights_only=True))
    x = torch.rand(1, 3, 37, 29)
    torch.testing.assert_close(net(x, ["relu3_1"])["relu3_1"], ref(x), rtol=1e-4, atol=1e-3)
    with pytest.raises(UserError, match="relu4_1.*it has relu1_1, relu1_2, relu2_1, relu2_2, relu3_1"):
        build_loss_net(f"vgg19-normalised:{normalised_vgg}", content_layer="relu4_1")


def test_normalised_full_file(tmp_path):
    torch.manual_seed(1)
    ref = adain_vgg_reference(16)
    torch.save(ref.state_dict(), tmp_path / "vgg_normalised.pth")
    net = build_loss_net(f"vgg19-normalised:{tmp_path / 'vgg_normalised.pth'}")
    assert net.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert net.content_layer == "relu4_2"
    x = torch.rand(1, 3, 48, 48)
    got = net(x, ["relu5_1"])["relu5_1"]
    convs = [i for i, m in enumerate(ref) if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        expected = ref[: convs[13] + 2](x)  # convs[0] is the 1x1 preprocessing; convs[13] is conv5_1
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_random_deep_extends_with_seeded_layers(normalised_vgg):
    spec = f"vgg19-normalised+random-deep:{normalised_vgg}"
    a, b = build_loss_net(spec), build_loss_net(spec)
    plain = build_loss_net(f"vgg19-normalised:{normalised_vgg}")
    assert a.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert a.content_layer == "relu3_1"  # the content stays on a trained layer
    x = torch.rand(1, 3, 64, 64)
    fa, fb, fp = a(x, a.style_layers), b(x, a.style_layers), plain(x, ["relu3_1"])
    torch.testing.assert_close(fa["relu5_1"], fb["relu5_1"])
    torch.testing.assert_close(fa["relu3_1"], fp["relu3_1"])


def test_random_nets_are_seeded_and_explicit():
    x = torch.rand(1, 3, 32, 32)
    a = build_loss_net("random-vgg16:1")(x, ["relu2_2"])["relu2_2"]
    b = build_loss_net("random-vgg16:1")(x, ["relu2_2"])["relu2_2"]
    c = build_loss_net("random-vgg16:2")(x, ["relu2_2"])["relu2_2"]
    assert torch.equal(a, b) and not torch.equal(a, c)
    state = torch.random.get_rng_state()
    build_loss_net("random-vgg19:5")
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone


def test_truncation_and_frozen():
    net = build_loss_net("random-vgg19", ("relu1_1",), "relu2_1")
    assert net.names[-1] == "relu2_1"
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    net(x, ["relu2_1"])["relu2_1"].sum().backward()  # gradients still flow to the input
    assert x.grad is not None


@pytest.mark.parametrize("content", [b"", b"not a pickle", None])
def test_bad_weight_files(tmp_path, content):
    p = tmp_path / "w.pth"
    if content is None:
        torch.save({"foo.weight": torch.zeros(3)}, p)
    else:
        p.write_bytes(content)
    for spec in (f"vgg16:{p}", f"vgg19-normalised:{p}"):
        with pytest.raises(UserError):
            build_loss_net(spec)
    with pytest.raises(UserError, match="not found"):
        build_loss_net(f"vgg19:{tmp_path / 'missing.pth'}")


def test_portable_spec_drops_the_folder_only():
    from fastnst.lossnet import portable_spec

    assert portable_spec("vgg19-normalised:../shared/data/weights/v.pth") == "vgg19-normalised:v.pth"
    assert portable_spec("vgg16:/abs/vgg16-397923af.pth") == "vgg16:vgg16-397923af.pth"
    assert portable_spec("random-vgg16:0") == "random-vgg16:0" and portable_spec("vgg16") == "vgg16"


def test_which_specs_carry_a_file(tmp_path, monkeypatch):
    import hashlib

    from fastnst.config import loss_net_file
    from fastnst.lossnet import weights_sha256

    for spec, path in [("vgg16:/w/a.pth", "/w/a.pth"), ("vgg19:b.pth", "b.pth"), ("vgg19-normalised:c.pth", "c.pth"),
                       ("vgg19-normalised+random-deep:d.pth", "d.pth"), ("vgg16", None), ("vgg16:", None),
                       ("random-vgg16:7", None), ("random-vgg19", None), (None, None)]:
        assert loss_net_file(spec) == path, spec
    for spec in ("vgg16:/w/a.pth", "vgg19-normalised:c.pth", "vgg16", "random-vgg16:7"):
        assert parse_spec(spec).path == loss_net_file(spec)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "7").write_bytes(b"a seed, not weights")
    (tmp_path / "w.pth").write_bytes(b"weights")
    assert weights_sha256("random-vgg16:7") is None and weights_sha256("vgg16") is None
    assert weights_sha256("vgg16:w.pth") == hashlib.sha256(b"weights").hexdigest()
    assert weights_sha256("vgg16:missing.pth") is None


def test_a_recipes_weights_file_is_taken_from_its_data_root(tmp_path):
    import json
    import os

    from fastnst.config import load_recipe

    for spec, want in [("vgg16:w.pth", f"vgg16:{tmp_path / 'w.pth'}"), ("vgg16:/abs/w.pth", "vgg16:/abs/w.pth"),
                       ("random-vgg16:7", "random-vgg16:7"), ("vgg19", "vgg19")]:
        (tmp_path / "r.json").write_text(json.dumps({"loss_net": spec}))
        assert load_recipe(os.fspath(tmp_path / "r.json"))["loss_net"] == want, spec
