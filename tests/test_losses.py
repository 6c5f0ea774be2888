import pytest
import torch

from fastnst.losses import PerceptualLoss, content_loss, gram_matrix, style_loss, total_variation
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
