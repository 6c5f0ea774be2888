"""Training throughput: fastnst's loop against a plain reference loop, for each preset.

The reference is written the way pytorch/examples' fast_neural_style writes its step: VGG features
of the output y and of the input x (all style layers for both), a Gram matrix per layer of y
against precomputed style Grams, and MSE losses, on the same network and weights built from plain
`nn.Conv2d` layers as pytorch/examples' TransformerNet is. fastnst's step is `fastnst.train`'s:
one pass over y, a pass over x without gradients that stops at the content layer, and the
RGB output conv in channels-last on CPUs (`models.FewChannelConv2d`).

    python benchmarks/train_speed.py --loss-net vgg19-normalised:PATH [--size 128] [--batch 4] [--steps 3] [--rounds 3]

Prints images/s (from the median step time over interleaved rounds) for the reference loop,
for fastnst's loop, and for fastnst's loop in the channels-last memory format
(``fastnst train --channels-last``), with the ratios. A benchmark: it asserts nothing.
"""

import argparse
import copy
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from fastnst.losses import PerceptualLoss, gram_matrix, total_variation
from fastnst.lossnet import build_loss_net
from fastnst.models import FewChannelConv2d, create_model, list_presets


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


def plain_copy(model):
    """The same network and weights with every conv a plain nn.Conv2d (the reference's model)."""
    ref = copy.deepcopy(model)
    for m in ref.modules():
        if isinstance(m, FewChannelConv2d):
            m.__class__ = nn.Conv2d
    return ref


def fastnst_step(model, crit, x, opt):
    y = model(x)
    terms = crit(y, crit.content_target(x))
    opt.zero_grad(set_to_none=True)
    terms["total"].backward()
    opt.step()


def step_seconds(step, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        out.append(time.perf_counter() - t)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss-net", default=None, help="loss-net spec (default: $FASTNST_LOSS_NET or vgg16)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3, help="steps per variant and round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians of all steps")
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
        ref_model = plain_copy(model)
        cl_model = copy.deepcopy(model).to(memory_format=torch.channels_last)
        xcl = x.contiguous(memory_format=torch.channels_last)
        opts = {k: torch.optim.Adam(m.parameters(), 1e-3) for k, m in
                (("reference", ref_model), ("fastnst", model), ("channels-last", cl_model))}
        steps = {
            "reference": lambda: reference_step(ref_model, net, layers, net.content_layer, crit.target_grams, x,
                                                opts["reference"], 1.0, 1e4, 1.0),
            "fastnst": lambda: fastnst_step(model, crit, x, opts["fastnst"]),
            "channels-last": lambda: fastnst_step(cl_model, crit, xcl, opts["channels-last"]),
        }
        times = {k: [] for k in steps}
        for r in range(args.rounds):  # interleaved rounds, so that a slow spell of a shared machine hits all three
            for name, step in steps.items():
                net.to(memory_format=torch.channels_last if name == "channels-last" else torch.contiguous_format)
                if r == 0:
                    step()  # warm-up
                times[name] += step_seconds(step, args.steps)
        net.to(memory_format=torch.contiguous_format)
        ips = {k: args.batch / statistics.median(v) for k, v in times.items()}
        ref = ips["reference"]
        print(f"{preset:8s} " + "   ".join(f"{k} {v:6.2f} img/s ({v / ref:.2f}x)" for k, v in ips.items()))

if __name__ == "__main__":
    main()
