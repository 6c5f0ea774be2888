"""Training throughput: fastnst's loop against a plain reference loop, for each preset.

The reference is written the way pytorch/examples' fast_neural_style writes its step: VGG features
of the output y and of the input x (all style layers for both), a Gram matrix per layer of y
against precomputed style Grams, and MSE losses. fastnst's step is `fastnst.train`'s: one pass
over y, and a pass over x without gradients that stops at the content layer.

    python benchmarks/train_speed.py --loss-net vgg19-normalised:PATH [--size 128] [--batch 4] [--steps 5]

Prints images/s for the reference loop, for fastnst's loop, and for fastnst's loop in the
channels-last memory format (``fastnst train --channels-last``), with the ratios. A benchmark: it
asserts nothing.
"""

import argparse
import time

import torch
import torch.nn.functional as F

from fastnst.losses import PerceptualLoss, gram_matrix, total_variation
from fastnst.lossnet import build_loss_net
from fastnst.models import create_model, list_presets


def reference_step(model, vgg, layers, content_layer, style_grams, x, opt, cw, sw, tvw):
    y = model(x)
    features_y = vgg(y, layers)
    features_x = vgg(x, layers)  # the full feature stack of x, as the reference computes it
    content = F.mse_loss(features_y[content_layer], features_x[content_layer])
    style = sum(F.mse_loss(gram_matrix(features_y[n]), g.expand(x.shape[0], -1, -1)) for n, g in style_grams.items())
    loss = cw * content + sw * style + tvw * total_variation(y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def fastnst_step(model, crit, x, opt):
    y = model(x)
    terms = crit(y, crit.content_target(x))
    opt.zero_grad(set_to_none=True)
    terms["total"].backward()
    opt.step()


def images_per_s(step, batch, steps):
    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss-net", default=None, help="loss-net spec (default: $FASTNST_LOSS_NET or vgg16)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--presets", default=",".join(list_presets()))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    net = build_loss_net(args.loss_net)
    layers = tuple(dict.fromkeys((*net.style_layers, net.content_layer)))
    style = torch.rand(1, 3, args.size, args.size)
    crit = PerceptualLoss(net, style, style_weight=1e4, tv_weight=1.0)
    x = torch.rand(args.batch, 3, args.size, args.size)
    print(f"loss net {net.spec}, style {net.style_layers}, content {net.content_layer}, "
          f"{args.size}px, batch {args.batch}, {torch.get_num_threads()} threads")
    for preset in args.presets.split(","):
        torch.manual_seed(0)
        model = create_model(preset)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        ref = images_per_s(lambda: reference_step(model, net, layers, net.content_layer, crit.target_grams, x, opt,
                                                   1.0, 1e4, 1.0), args.batch, args.steps)
        ours = images_per_s(lambda: fastnst_step(model, crit, x, opt), args.batch, args.steps)
        model.to(memory_format=torch.channels_last)
        net.to(memory_format=torch.channels_last)
        xcl = x.contiguous(memory_format=torch.channels_last)
        cl = images_per_s(lambda: fastnst_step(model, crit, xcl, opt), args.batch, args.steps)
        net.to(memory_format=torch.contiguous_format)
        print(f"{preset:8s} reference {ref:6.2f} img/s   fastnst {ours:6.2f} img/s ({ours / ref:.2f}x)   "
              f"fastnst channels-last {cl:6.2f} img/s ({cl / ref:.2f}x)")


if __name__ == "__main__":
    main()
