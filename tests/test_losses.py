import pytest
import torch

from fastnst.losses import (
    PerceptualLoss,
    content_loss,
    flow_inside,
    gram_matrix,
    random_flow,
    style_loss,
    temporal_loss,
    total_variation,
    warp_torch,
)
from fastnst.lossnet import build_loss_net


def test_gram_of_known_tensor():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]], dtype=torch.float32) / (2 * 1 * 2)
    torch.testing.assert_close(gram_matrix(f), expected[None])


def test_gram_matches_einsum_and_is_symmetric():
    f = torch.randn(3, 5, 7, 4)
    g = gram_matrix(f)
    ref = torch.einsum("nchw,ndhw->ncd", f, f) / (5 * 7 * 4)
    torch.testing.assert_close(g, ref)
    torch.testing.assert_close(g, g.transpose(1, 2))


def test_tv_zero_on_constant_and_known_on_ramp():
    assert total_variation(torch.full((2, 3, 8, 9), 0.3)).item() == 0.0
    ramp = torch.arange(5.0).repeat(1, 1, 4, 1)  # (1,1,4,5), horizontal step 1, vertical 0
    assert total_variation(ramp).item() == pytest.approx(1.0)


def test_losses_zero_on_identical_inputs_and_positive_otherwise():
    a = torch.rand(2, 4, 6, 6)
    assert content_loss(a, a.clone()).item() == 0.0
    assert style_loss({"x": a}, {"x": gram_matrix(a)}).item() == 0.0
    b = a + 0.1 * torch.randn_like(a)
    assert content_loss(b, a).item() > 0
    assert style_loss({"x": b}, {"x": gram_matrix(a)}).item() > 0


def test_style_loss_broadcasts_one_target_over_batch_and_weights_layers():
    a, b = torch.rand(1, 4, 5, 5), torch.rand(1, 4, 5, 5)
    target = {"l": gram_matrix(a)}
    single = style_loss({"l": b}, target)
    batched = style_loss({"l": torch.cat([b, b, a])}, target)
    assert batched.item() == pytest.approx(single.item() * 2 / 3, rel=1e-5)
    assert style_loss({"l": b}, target, {"l": 3.0}).item() == pytest.approx(3 * single.item(), rel=1e-6)


def test_gradcheck_float64():
    f = torch.rand(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    t = torch.rand(1, 3, 4, 5, dtype=torch.float64)
    g = gram_matrix(torch.rand(1, 3, 4, 5, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda x: total_variation(x), (f,))
    assert torch.autograd.gradcheck(lambda x: content_loss(x, t), (f,))
    assert torch.autograd.gradcheck(gram_matrix, (f,))
    assert torch.autograd.gradcheck(lambda x: style_loss({"l": x}, {"l": g}, {"l": 2.0}), (f,))


def test_gram_gradient_matches_autograds_bmm_for_any_upstream_gradient():
    # The one-product backward against autograd's own bmm backward, on a batch, with an
    # upstream gradient that is not symmetric (as the MSE's is not once weights differ).
    torch.manual_seed(0)
    f = torch.rand(3, 5, 4, 6, dtype=torch.float64, requires_grad=True)
    up = torch.randn(3, 5, 5, dtype=torch.float64)
    (ours,) = torch.autograd.grad((gram_matrix(f) * up).sum(), f)
    flat = f.reshape(3, 5, 24)
    (ref,) = torch.autograd.grad((torch.bmm(flat, flat.transpose(1, 2)) / 120 * up).sum(), f)
    torch.testing.assert_close(ours, ref)
    assert torch.autograd.gradcheck(gram_matrix, (f,))


def test_gram_stays_float32_under_autocast():
    f = torch.rand(2, 4, 6, 6, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram_matrix(f)
    assert g.dtype == torch.float32
    torch.testing.assert_close(g, gram_matrix(f))
    g.sum().backward()
    assert f.grad.dtype == torch.float32


def test_half_precision_features_are_upcast():
    f = torch.rand(1, 4, 6, 6)
    assert gram_matrix(f.bfloat16()).dtype == torch.float32
    torch.testing.assert_close(gram_matrix(f.bfloat16()), gram_matrix(f), rtol=2e-2, atol=1e-3)


def test_gram_and_style_gradients_match_finite_differences():
    torch.manual_seed(0)
    f = torch.rand(1, 2, 3, 3, requires_grad=True)
    target = {"l": gram_matrix(torch.rand(1, 2, 3, 3))}
    loss = style_loss({"l": f}, target)
    (grad,) = torch.autograd.grad(loss, f)
    eps = 1e-3
    num = torch.zeros_like(f)
    for i in range(f.numel()):
        d = torch.zeros(f.numel())
        d[i] = eps
        d = d.view_as(f)
        num.view(-1)[i] = (style_loss({"l": f + d}, target) - style_loss({"l": f - d}, target)) / (2 * eps)
    torch.testing.assert_close(grad, num, rtol=2e-2, atol=1e-5)


def test_losses_do_not_modify_inputs():
    a, b = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    a0, b0 = a.clone(), b.clone()
    total_variation(a), content_loss(a, b), style_loss({"x": a}, {"x": gram_matrix(b)})
    assert torch.equal(a, a0) and torch.equal(b, b0)


def test_perceptual_loss_module():
    net = build_loss_net("random-vgg19:1", ("relu1_1", "relu2_1"), "relu2_1")
    style, content = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 24, 24)
    crit = PerceptualLoss(net, style, content_weight=2.0, style_weight=10.0, tv_weight=0.5)
    assert set(crit.target_grams) == {"relu1_1", "relu2_1"}
    target = crit.content_target(content)
    assert not target.requires_grad
    same = crit(content, target)
    assert same["content"].item() == 0.0
    out = content.clone().requires_grad_(True)
    terms = crit(out, target)
    expected = 2.0 * terms["content"] + 10.0 * terms["style"] + 0.5 * terms["tv"]
    torch.testing.assert_close(terms["total"], expected)
    terms["total"].backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
    # the loss on the style image itself has no style term
    s_terms = crit(style, crit.content_target(style))
    assert s_terms["style"].item() < 1e-10


# ----------------------------------------------------------------------------- temporal


def test_warp_torch_matches_the_opencv_warp():
    import numpy as np

    from fastnst.flow import warp

    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 40, 56, generator=g)
    flow = random_flow(1, 40, 56, magnitude=0.05, generator=g)
    ours = warp_torch(img, flow)[0].permute(1, 2, 0).numpy()
    ref = warp(img[0].permute(1, 2, 0).numpy(), flow[0].permute(1, 2, 0).numpy())
    assert np.abs(ours - ref).max() < 1e-3  # OpenCV interpolates with 1/32-pixel weights


def test_warp_torch_integer_shift_and_inside_mask():
    img = torch.rand(2, 3, 16, 20)
    flow = torch.zeros(2, 2, 16, 20)
    flow[:, 0], flow[:, 1] = 3, -2  # out(y, x) = img(y - 2, x + 3)
    out = warp_torch(img, flow)
    torch.testing.assert_close(out[:, :, 2:, :-3], img[:, :, :-2, 3:])
    inside = flow_inside(flow)
    assert inside.shape == (2, 1, 16, 20)
    assert inside[:, :, 2:, :-3].all() and not inside[:, :, :2].any() and not inside[..., -3:].any()


def test_random_flow_is_seeded_smooth_and_bounded():
    a = random_flow(3, 64, 48, generator=torch.Generator().manual_seed(5))
    b = random_flow(3, 64, 48, generator=torch.Generator().manual_seed(5))
    c = random_flow(3, 64, 48, generator=torch.Generator().manual_seed(6))
    assert a.shape == (3, 2, 64, 48) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 0.1 < a.abs().amax() < 0.2 * 64  # moves, by at most a few pixels
    assert (a[..., 1:, :] - a[..., :-1, :]).abs().max() < 0.2  # smooth: neighbours move alike


def test_temporal_loss_of_equivariant_and_other_maps():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 24, 32, generator=g)
    pointwise = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.Sigmoid())  # commutes with any warp

    def pair_loss(net, flow):
        return temporal_loss(net(warp_torch(x, flow)), net(x), flow)

    zero = torch.zeros(2, 2, 24, 32)
    shift = torch.zeros(2, 2, 24, 32)
    shift[:, 0], shift[:, 1] = 2, 1
    with torch.no_grad():
        assert pair_loss(pointwise, zero) < 1e-10
        assert pair_loss(pointwise, shift) < 1e-10
        pattern = torch.rand(1, 3, 24, 32, generator=g)  # a fixed texture that does not move with the image
        assert pair_loss(lambda t: pointwise(t) + pattern, shift) > 1e-3
        assert pair_loss(lambda t: pointwise(t) + pattern, zero) < 1e-10
    # gradients reach both outputs
    y = x.clone().requires_grad_(True)
    loss = temporal_loss(y.roll(1, dims=3), y, shift)
    loss.backward()
    assert loss > 0 and y.grad.abs().sum() > 0
    # an optional mask restricts the pixels
    masked = temporal_loss(x.roll(1, dims=3), x, shift, mask=torch.zeros(2, 1, 24, 32))
    assert masked == 0


# ----------------------------------------------------------------------------- multi-scale


def test_blur_downsample_keeps_constants_and_halves_sizes():
    from fastnst.losses import blur_downsample, pyramid

    x = torch.full((2, 3, 9, 16), 0.25)
    y = blur_downsample(x)
    assert y.shape == (2, 3, 5, 8)
    torch.testing.assert_close(y, torch.full_like(y, 0.25))
    levels = pyramid(torch.rand(1, 3, 32, 48), 3)
    assert [tuple(t.shape[-2:]) for t in levels] == [(32, 48), (16, 24), (8, 12)]
    assert len(pyramid(x, 1)) == 1 and pyramid(x, 1)[0] is x


def test_blur_downsample_removes_the_highest_frequency():
    from fastnst.losses import blur_downsample

    stripes = (torch.arange(16) % 2).float().repeat(1, 1, 16, 1)  # period 2 along x
    y = blur_downsample(stripes)
    assert (y - y.mean()).abs().max() < 1e-6  # binomial kernel: zero response at Nyquist


def test_multiscale_style_loss_is_the_sum_of_single_scale_losses():
    from fastnst.losses import pyramid

    net = build_loss_net("random-vgg19:0", ("relu1_1", "relu2_1"), "relu2_1")
    style, out = torch.rand(1, 3, 64, 64), torch.rand(2, 3, 64, 64)
    multi = PerceptualLoss(net, style, style_scales=3)
    expected = 0.0
    for s_level, o_level in zip(pyramid(style, 3), pyramid(out, 3)):
        single = PerceptualLoss(net, s_level)
        expected = expected + single(o_level, single.content_target(o_level))["style"]
    got = multi(out, multi.content_target(out))
    torch.testing.assert_close(got["style"], expected)
    # level 0 alone is the plain loss, and the style image at every level scores zero
    plain = PerceptualLoss(net, style)
    torch.testing.assert_close(multi.target_grams["relu1_1"], plain.target_grams["relu1_1"])
    assert multi(style, multi.content_target(style))["style"].item() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        PerceptualLoss(net, style, style_scales=0)
