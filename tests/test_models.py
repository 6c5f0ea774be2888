"""Tests for fastnst.models: shapes, value range, padding, cost, model files, ONNX export."""

import os
from dataclasses import replace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fastnst.errors import UserError
from fastnst.models import (
    PRESETS,
    FewChannelConv2d,
    ModelConfig,
    TransformerNet,
    _pad_reflect,
    count_parameters,
    create_model,
    flops_per_pixel,
    list_presets,
    load_model_file,
    save_model_file,
)

PRESET_NAMES = list_presets()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one thread is as fast, and avoids thread contention on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models():
    """One eval-mode model per preset, with fixed random weights."""
    torch.manual_seed(0)
    return {name: create_model(name).eval() for name in PRESET_NAMES}


def perturb_norms_(model: nn.Module, seed: int = 0) -> None:
    """Give the instance-norm affine parameters non-default values (they start at 1 and 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.InstanceNorm2d):
                m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.5 * torch.randn(m.bias.shape, generator=g))


def test_every_preset_name_builds_a_working_network():
    """Each name the CLI and the style files accept (fastnst.config.PRESET_NAMES, torch-free) builds a network that
    stylizes an odd-sized image (that the layouts differ: test_lite_is_much_cheaper_than_johnson)."""
    from fastnst.config import PRESET_NAMES as CONFIG_NAMES

    assert {"johnson", "lite"} <= set(CONFIG_NAMES)
    x = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    for name in CONFIG_NAMES:
        torch.manual_seed(0)
        with torch.no_grad():
            y = create_model(name).eval()(x)
        assert y.shape == x.shape and torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1, name
        assert y.std() > 1e-3, name  # not a constant image


@pytest.mark.parametrize("preset", PRESET_NAMES)
@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 5, 2), (2, 3, 17, 23), (1, 3, 64, 48), (1, 3, 333, 517)])
def test_shape_and_range(models, preset, shape):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = models[preset](x)
    assert y.shape == x.shape
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()
    assert y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_output_depends_on_input(models, preset):
    # guards against a network that ignores its input (e.g. a broken pad/crop)
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y1, y2 = models[preset](x), models[preset](x.flip(-1))
    assert not torch.allclose(y1, y2)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_range_is_bounded_by_construction(preset):
    torch.manual_seed(3)
    model = create_model(preset).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(50.0)
    x = torch.cat([torch.zeros(1, 3, 21, 30), torch.ones(1, 3, 21, 30), torch.rand(1, 3, 21, 30)])
    x[2, :, :5] = 1e4  # far outside [0, 1]
    with torch.no_grad():
        y = model(x)
    assert torch.isfinite(y).all()
    assert y.min() >= 0 and y.max() <= 1
    # the pre-sigmoid values are huge, so many outputs saturate: the bound is not a clamp
    assert ((y == 0) | (y == 1)).float().mean() > 0.1


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_input_is_not_modified(models, preset):
    x = torch.rand(2, 3, 19, 26, generator=torch.Generator().manual_seed(4))
    x_copy = x.clone()
    with torch.no_grad():
        models[preset](x)
    assert torch.equal(x, x_copy)
    # autograd also complains about in-place changes of tensors it needs
    x.requires_grad_(True)
    models[preset](x).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_odd_sizes_are_reflect_padded_and_cropped(models, preset):
    # reference: reflection-pad bottom/right to a multiple of the stride by hand, run the
    # network on that (it needs no padding of its own), crop the top-left corner
    model = models[preset]
    s = model.config.total_stride
    h, w = 3 * s + 1, 4 * s - 1
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(5))
    padded = F.pad(x, (0, (-w) % s, 0, (-h) % s), mode="reflect")
    assert min(padded.shape[-2:]) >= model.config.min_size
    with torch.no_grad():
        expected = model(padded)[:, :, :h, :w]
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_pad_reflect_matches_torch_and_replicates_for_tiny_inputs():
    x = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(6))
    expected = F.pad(x, (1, 5, 2, 3), mode="reflect")
    assert torch.equal(_pad_reflect(x, 1, 5, 2, 3), expected)
    one = torch.rand(1, 3, 1, 1)
    assert torch.equal(_pad_reflect(one, 0, 7, 0, 7), one.expand(1, 3, 8, 8))
    two = torch.tensor([[[[1.0, 2.0]]]])
    assert _pad_reflect(two, 0, 4, 0, 0).flatten().tolist() == [1, 2, 1, 1, 1, 1]


@pytest.mark.parametrize("kernel", [3, 9])
def test_few_channel_conv_matches_conv2d_values_and_gradients(kernel):
    """The channels-last training path is a speed detail: outputs and all gradients equal nn.Conv2d's."""
    torch.manual_seed(0)
    fast = FewChannelConv2d(8, 3, kernel)
    plain = nn.Conv2d(8, 3, kernel)
    plain.load_state_dict(fast.state_dict())
    x = torch.rand(2, 8, 23, 31)
    g = torch.randn(2, 3, 23 - kernel + 1, 31 - kernel + 1)
    outs = []
    for conv in (fast, plain):
        xi = x.clone().requires_grad_(True)
        y = conv(xi)
        y.backward(g)
        outs.append((y, xi.grad, conv.weight.grad, conv.bias.grad))
    (yf, *gf), (yp, *gp) = outs
    assert yf.is_contiguous()  # NCHW handed back to the next layer
    torch.testing.assert_close(yf, yp)
    for a, b in zip(gf, gp):
        torch.testing.assert_close(a, b)
    with torch.no_grad():  # inference takes the plain path
        torch.testing.assert_close(fast(x), plain(x))


def test_output_convs_are_few_channel_convs():
    for preset in PRESET_NAMES:
        convs = [m for m in create_model(preset).modules() if isinstance(m, nn.Conv2d)]
        assert isinstance(convs[-1], FewChannelConv2d) and convs[-1].out_channels == 3
        assert not any(isinstance(m, FewChannelConv2d) for m in convs[:-1])


def test_johnson_parameter_count():
    n = count_parameters(create_model("johnson"))
    assert 1.6e6 <= n <= 1.8e6


def conv_flops_per_pixel_by_hooks(model: nn.Module, size: int) -> float:
    """Independent count: 2 * MACs of every Conv2d, from forward hooks on a real forward."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        total += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.rand(1, 3, size, size))
    for h in handles:
        h.remove()
    return total / size**2


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_flops_per_pixel_matches_hook_count(models, preset):
    size = 4 * models[preset].config.total_stride
    assert flops_per_pixel(preset) == pytest.approx(conv_flops_per_pixel_by_hooks(models[preset], size), rel=1e-6)
    assert flops_per_pixel(models[preset]) == flops_per_pixel(PRESETS[preset]) == flops_per_pixel(preset)


def test_lite_is_much_cheaper_than_johnson():
    ratio = flops_per_pixel("lite") / flops_per_pixel("johnson")
    assert ratio <= 0.15
    # but not a toy: keep some capacity
    assert count_parameters(create_model("lite")) >= 50_000


def test_create_model_overrides_and_unknown_preset():
    small = create_model("johnson", num_blocks=2)
    assert len(small.body) == 2
    assert count_parameters(small) < count_parameters(create_model("johnson"))
    with pytest.raises(UserError, match="johnson") as info:
        create_model("no-such-preset")
    assert "lite" in str(info.value) and "\n" not in str(info.value)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        ModelConfig(block="fancy")
    with pytest.raises(ValueError):
        ModelConfig(up_channels=(64, 32, 16))  # 3 upsamplings for a stride of 4
    with pytest.raises(ValueError):
        ModelConfig(upsample="bicubic")
    with pytest.raises(ValueError, match="mirror"):
        ModelConfig(up_channels=(48, 32), skips=True)  # the encoder has 64 channels at 1/2
    with pytest.raises(ValueError, match="mirror"):  # a third stage would end below the stem's resolution
        ModelConfig(stem_stride=2, stem_channels=16, down_channels=(32, 64), up_channels=(32, 16, 8), skips=True)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_skips_add_the_encoder_outputs_to_the_decoder(preset):
    """With skips, the output equals a hand-written U-Net pass over the same modules."""
    torch.manual_seed(0)
    model = TransformerNet(replace(PRESETS[preset], skips=True, upsample="bilinear")).eval()
    perturb_norms_(model)
    x = torch.rand(1, 3, 37, 45)
    s = model.config.total_stride
    hp, wp = max(-(-37 // s) * s, model.config.min_size), max(-(-45 // s) * s, model.config.min_size)
    h = F.pad(x, (0, wp - 45, 0, hp - 37), mode="reflect")
    enc = []
    for layer in model.encoder:
        h = layer(h)
        enc.append(h)
    y = model.body(h)
    stages = len(model.config.up_channels)
    for k in range(stages):
        y = model.decoder[2 * k + 1](model.decoder[2 * k](y)) + enc[-2 - k]
    for layer in list(model.decoder)[2 * stages:]:
        y = layer(y)
    with torch.no_grad():
        torch.testing.assert_close(model(x), y[:, :, :37, :45])
        plain = TransformerNet(replace(PRESETS[preset], skips=False, upsample="bilinear")).eval()
        plain.load_state_dict(model.state_dict())  # same parameters: skips add none
        assert (plain(x) - model(x)).abs().max() > 1e-3


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_config_variants_keep_the_size(preset):
    # every block type, and a decoder with fewer stages than downsamplings
    for block in ("basic", "dwsep", "bottleneck"):
        model = TransformerNet(replace(PRESETS[preset], block=block, num_blocks=1)).eval()
        with torch.no_grad():
            assert model(torch.rand(1, 3, 13, 9)).shape == (1, 3, 13, 9)
    model = TransformerNet(ModelConfig(stem_stride=2, down_channels=(16, 32), up_channels=(16,), num_blocks=1)).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 29, 11)).shape == (1, 3, 29, 11)


META = {"style": "starry_night", "loss_net": "vgg16", "layers": ["relu1_2", "relu2_2"], "weights": [1.0, 2.5e5],
        "image_size": 256}


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_save_load_round_trip_fp32(tmp_path, preset):
    torch.manual_seed(7)
    model = create_model(preset).eval()
    perturb_norms_(model)
    path = tmp_path / "m.pth"
    save_model_file(path, model, META)
    assert os.listdir(tmp_path) == ["m.pth"]  # no temp file left behind
    loaded, meta = load_model_file(path)
    assert meta == META
    assert loaded.config == model.config and loaded.preset == preset
    assert not loaded.training
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and v2.dtype == torch.float32 and torch.equal(v1, v2)
    x = torch.rand(1, 3, 37, 29)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_save_load_round_trip_fp16(tmp_path):
    torch.manual_seed(8)
    model = create_model("lite").eval()
    perturb_norms_(model)
    save_model_file(tmp_path / "full.pth", model, META)
    save_model_file(tmp_path / "half.pth", model, META, half=True)
    assert os.path.getsize(tmp_path / "half.pth") < 0.6 * os.path.getsize(tmp_path / "full.pth")
    raw = torch.load(tmp_path / "half.pth", weights_only=True)
    assert raw["format"] == "fastnst-model" and raw["version"] == 1 and raw["preset"] == "lite"
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point())
    loaded, meta = load_model_file(tmp_path / "half.pth")
    assert meta == META
    for k, v in model.state_dict().items():
        w = loaded.state_dict()[k]
        assert w.dtype == v.dtype
        assert torch.allclose(w, v, rtol=1e-3, atol=1e-4)
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        assert (model(x) - loaded(x)).abs().max() < 1e-2


def test_save_rejects_non_json_meta(tmp_path):
    with pytest.raises(TypeError):
        save_model_file(tmp_path / "m.pth", create_model("lite"), {"tensor": torch.zeros(1)})
    assert os.listdir(tmp_path) == []


def test_bad_model_files_raise_user_error(tmp_path):
    model = create_model("lite")
    cases = {}
    cases["missing"] = tmp_path / "missing.pth"
    (tmp_path / "garbage.pth").write_bytes(b"this is not a model file\x00\x01")
    cases["garbage"] = tmp_path / "garbage.pth"
    save_model_file(tmp_path / "good.pth", model, {})
    data = (tmp_path / "good.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    cases["truncated"] = tmp_path / "truncated.pth"
    torch.save({"format": "something-else", "state_dict": model.state_dict()}, tmp_path / "foreign.pth")
    cases["foreign"] = tmp_path / "foreign.pth"
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    cases["bare state dict"] = tmp_path / "bare.pth"
    payload = torch.load(tmp_path / "good.pth", weights_only=True)
    torch.save({**payload, "version": 99}, tmp_path / "future.pth")
    cases["future version"] = tmp_path / "future.pth"
    torch.save({**payload, "model_config": {**payload["model_config"], "num_blocks": 2}}, tmp_path / "mismatch.pth")
    cases["config/weights mismatch"] = tmp_path / "mismatch.pth"
    for what, path in cases.items():
        with pytest.raises(UserError) as info:
            load_model_file(path)
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg, (what, msg)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESET_NAMES)
@pytest.mark.parametrize("variant", [{}, {"skips": True, "upsample": "bilinear"}], ids=["plain", "skips-bilinear"])
def test_onnx_export_with_dynamic_shapes(tmp_path, preset, variant):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.manual_seed(9)
    model = create_model(preset, **variant).eval()
    perturb_norms_(model)
    path = tmp_path / f"{preset}.onnx"
    Dim = torch.export.Dim
    dims = {0: Dim("batch", min=1), 2: Dim("height", min=1), 3: Dim("width", min=1)}
    torch.onnx.export(model, (torch.rand(1, 3, 64, 64),), path, input_names=["image"], output_names=["stylized"],
                      dynamic_shapes=(dims,), opset_version=18, dynamo=True, external_data=False)
    assert os.listdir(tmp_path) == [path.name]  # weights inside the one file
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for value in (*session.get_inputs(), *session.get_outputs()):  # dynamic, with readable names
        assert value.shape == ["batch", 3, "height", "width"], (value.name, value.shape)
    # sizes other than the export size, odd, and smaller than the stride; not 1x1: a constant
    # image leaves instance norm dividing float noise by sqrt(eps), so tiny rounding differences
    # between the two runtimes get amplified there
    for shape in [(1, 3, 97, 131), (2, 3, 17, 23), (1, 3, 3, 2)]:
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {"image": x.numpy()})
        assert got.shape == expected.shape
        assert abs(got - expected).max() < 1e-4, shape


# ----------------------------------------------------------------------------- multi-style (CIN)


def _plain_forward(model, x):
    """The one-style network as plain nn.Sequential calls (the forward before multi-style networks)."""
    import torch.nn as nn

    seq = nn.Sequential.forward
    _, _, h, w = x.shape
    s = model.config.total_stride
    hp, wp = max(-(-h // s) * s, model.config.min_size), max(-(-w // s) * s, model.config.min_size)
    from fastnst.models import _pad_reflect

    x = _pad_reflect(x, 0, wp - w, 0, hp - h)
    encoded = []
    for layer in model.encoder:
        x = seq(layer, x)
        encoded.append(x)
    y = x
    for block in model.body:
        y = y + seq(block.body, y)
    for i, layer in enumerate(model.decoder):
        y = seq(layer, y) if isinstance(layer, nn.Sequential) else layer(y)
        stage = (i - 1) // 2
        if model.config.skips and i % 2 == 1 and stage < len(model.config.up_channels):
            y = y + encoded[-2 - stage]
    return y[:, :, :h, :w]


def test_a_shipped_one_style_model_runs_as_before_bit_for_bit():
    from fastnst.styles import PRETRAINED

    one_style = [p for p in sorted(PRETRAINED.glob("*_lite.pth")) if load_model_file(p)[0].num_styles == 1]
    assert len(one_style) >= 2, "the bundled one-style models are missing"
    for path in one_style[:2]:
        model, _ = load_model_file(path)
        x = torch.rand(2, 3, 45, 67, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            assert torch.equal(model(x), _plain_forward(model, x)), path.name


def _noisy_multi(preset, styles=3, seed=0):
    model = create_model(preset, num_styles=styles)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


@pytest.mark.parametrize("preset", ["lite", "johnson"])
def test_blends_are_the_average_of_the_style_rows(preset):
    import copy

    from fastnst.models import ConditionalInstanceNorm2d

    model = _noisy_multi(preset)
    x = torch.rand(1, 3, 37, 41, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = model(x, torch.tensor([1.0, 0, 0])), model(x, torch.tensor([0.0, 1, 0]))
        assert (a - b).abs().max() > 0.02  # the rows make different styles
        mixed = model(x, torch.tensor([0.5, 0.5, 0]))
        averaged = copy.deepcopy(model)
        for m in averaged.modules():
            if isinstance(m, ConditionalInstanceNorm2d):
                m.weight[0] = (m.weight[0] + m.weight[1]) / 2
                m.bias[0] = (m.bias[0] + m.bias[1]) / 2
        torch.testing.assert_close(mixed, averaged(x, torch.tensor([1.0, 0, 0])), atol=1e-5, rtol=0)
        # per-sample weights: each sample gets its own style
        both = model(torch.cat([x, x]), torch.tensor([[1.0, 0, 0], [0.0, 1, 0]]))
        torch.testing.assert_close(both, torch.cat([a, b]), atol=1e-5, rtol=0)


def test_multi_style_model_needs_style_weights_of_its_size():
    model = _noisy_multi("lite", styles=2)
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError):
        model(x)
    with pytest.raises(ValueError):
        model(x, torch.tensor([1.0, 0, 0]))


def test_multi_style_model_file_round_trip(tmp_path):
    from fastnst.models import save_model_file

    model = _noisy_multi("lite", styles=2)
    save_model_file(tmp_path / "m.pth", model, {"styles": ["a", "b"]})
    loaded, meta = load_model_file(tmp_path / "m.pth")
    x = torch.rand(1, 3, 40, 40)
    w = torch.tensor([0.3, 0.7])
    assert loaded.num_styles == 2 and meta["styles"] == ["a", "b"]
    with torch.no_grad():
        assert torch.equal(loaded(x, w), model(x, w))
