"""Training throughput: fastnst's loop against a plain reference loop, for each preset.

The reference is written the way pytorch/examples' fast_neural_style writes its step: VGG features
of the output y and of the input x (all style layers for both), a Gram matrix per layer of y
against precomputed style Grams, and MSE losses, on the same network and weights built from plain
`nn.Conv2d` layers as pytorch/examples' TransformerNet is. fastnst's step is `fastnst.train`'s:
one pass over y, a pass over x without gradients that stops at the content layer, Gram matrices
with a one-product backward (`losses.gram_matrix`), and the RGB output conv in channels-last on
CPUs (`models.FewChannelConv2d`).

Two modes:

    # the step alone, in one process (images/s from the median step over interleaved rounds)
    python benchmarks/train_speed.py --loss-net vgg19-normalised:PATH [--size 128] [--batch 4] [--steps 3] [--rounds 3]

    # whole commands: `fastnst train` against the reference as a program of its own
    python benchmarks/train_speed.py --command --loss-net vgg19-normalised:PATH --data DIR --style IMG \
        [--size 256] [--batches 4,8] [--command-steps 2,6] [--rounds 3]

`--command` times each program twice, with the two step counts of `--command-steps`, and divides
the difference of the wall times by the difference of the steps: start-up, the loss net's loading,
the final preview and the model file cancel, and what is left is the time per step of the whole
loop, data loading included. The reference program is the loop of pytorch/examples' `train()`: a
DataLoader with its default of no worker processes over Resize + CenterCrop + ToTensor, the step
above, and the model saved at the end; `reference+reuse` is the same program with fastnst's memory
setting (`fastnst.allocator.reuse_freed_memory`, which `fastnst train` applies to its process), so
what fastnst's loop gains beyond that setting shows on its own. Variants run interleaved, rounds
after rounds; figures are medians over the rounds. A benchmark: it asserts nothing.
"""

import argparse
import copy
import functools
import os
import statistics
import subprocess
import sys
import tempfile
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


# ----------------------------------------------------------------------------- whole commands


def reference_program(args) -> None:
    """The reference as a program: pytorch/examples' train() loop on fastnst's loss net and preset."""
    from PIL import Image
    from torchvision import transforms

    from fastnst import image as im

    class Photos(torch.utils.data.Dataset):  # a flat folder (ImageFolder wants class subfolders)
        def __init__(self, folder, size):
            self.files = list(im.walk_images(folder))
            self.tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            return self.tf(Image.open(self.files[i]).convert("RGB"))

    if args.reuse_memory:
        from fastnst.allocator import reuse_freed_memory
        reuse_freed_memory()
    torch.manual_seed(0)
    net = build_loss_net(args.loss_net)
    layers = tuple(dict.fromkeys((*net.style_layers, net.content_layer)))
    style = im.to_tensor(im.resize_long_side(im.load_image(args.style), args.size))
    crit = PerceptualLoss(net, style, style_weight=1e4, tv_weight=1.0)  # for the style Grams only
    model = plain_copy(create_model(args.presets))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loader = torch.utils.data.DataLoader(Photos(args.data, args.size), batch_size=args.batch, shuffle=True)
    step = 0
    while step < args.steps:
        for x in loader:
            reference_step(model, net, layers, net.content_layer, crit.target_grams, x, opt, 1.0, 1e4, 1.0)
            step += 1
            if step == args.steps:
                break
    torch.save(model.state_dict(), os.path.join(args.output, "model.pth"))


def command_line(variant: str, args, preset: str, batch: int, steps: int, out: str) -> list[str]:
    common = ["--loss-net", args.loss_net, "--style", args.style, "--data", args.data]
    if variant.startswith("reference"):
        return [sys.executable, __file__, "--reference-program", *common, "--presets", preset, "--size", str(args.size),
                "--batch", str(batch), "--steps", str(steps), "--output", out,
                *(["--reuse-memory"] if variant == "reference+reuse" else [])]
    return [sys.executable, "-m", "fastnst", "train", "-q", *common, "--preset", preset, "--image-size", str(args.size),
            "--style-size", str(args.size), "--batch-size", str(batch), "--iterations", str(steps), "--output", out,
            *args.fastnst_args.split()]


def wall_seconds(cmd: list[str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t


def command_mode(args) -> None:
    lo, hi = (int(v) for v in args.command_steps.split(","))
    variants = args.variants.split(",")
    configs = [(p, int(b)) for p in args.presets.split(",") for b in args.batches.split(",")]
    print(f"whole commands: loss net {args.loss_net}, {args.size}px, steps {hi} minus {lo}, {args.rounds} rounds, "
          f"fastnst train {args.fastnst_args or '(defaults)'}")
    per_step = {(c, v): [] for c in configs for v in variants}  # seconds per step, one per round
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for preset, batch in configs:
                for v in variants:
                    t = []
                    for n in (lo, hi):
                        out = os.path.join(tmp, f"{v}_{preset}_{batch}_{n}_{r}")
                        os.makedirs(out)
                        t.append(wall_seconds(command_line(v, args, preset, batch, n, out)))
                    per_step[(preset, batch), v].append((t[1] - t[0]) / (hi - lo))
                    print(f"  round {r + 1} {preset} batch {batch} {v}: {t[0]:.1f} s / {t[1]:.1f} s", flush=True)
    for preset, batch in configs:
        ips = {v: batch / statistics.median(per_step[(preset, batch), v]) for v in variants}
        ref = ips[variants[0]]
        print(f"{preset:8s} batch {batch}  "
              + "   ".join(f"{v} {x:5.2f} img/s ({x / ref:.2f}x)" for v, x in ips.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss-net", default=None, help="loss-net spec (default: $FASTNST_LOSS_NET or vgg16)")
    p.add_argument("--size", type=int, default=None, help="crop side (default: 128 for the step, 256 with --command)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3, help="steps per variant and round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians of all steps")
    p.add_argument("--presets", default=",".join(list_presets()))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="step mode: also profile one fastnst step per preset and print its N costliest ops")
    p.add_argument("--command", action="store_true", help="time whole commands (see above) instead of the step")
    p.add_argument("--data", help="--command: folder of training photos")
    p.add_argument("--style", help="--command: the style image")
    p.add_argument("--batches", default="4,8", help="--command: batch sizes")
    p.add_argument("--command-steps", default="2,6", help="--command: the two step counts timed")
    p.add_argument("--variants", default="reference,reference+reuse,fastnst",
                   help="--command: programs to time, the first is the ratios' base")
    p.add_argument("--fastnst-args", default="",
                   help="--command: more flags for fastnst train, e.g. --fastnst-args='--workers 2'")
    p.add_argument("--reference-program", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--reuse-memory", action="store_true",
                   help="step mode: apply fastnst's memory setting (fastnst.allocator) to this process, "
                        "as fastnst train does")
    p.add_argument("--output", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.size = args.size or (256 if args.command else 128)
    if args.reference_program:
        return reference_program(args)
    if args.command:
        if not (args.data and args.style and args.loss_net):
            p.error("--command needs --data, --style and --loss-net")
        return command_mode(args)
    if args.reuse_memory:
        from fastnst.allocator import reuse_freed_memory
        reuse_freed_memory()
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
        steps = {  # partial binds this preset's models now (a lambda would read the loop's names when called)
            "reference": functools.partial(reference_step, ref_model, net, layers, net.content_layer,
                                           crit.target_grams, x, opts["reference"], 1.0, 1e4, 1.0),
            "fastnst": functools.partial(fastnst_step, model, crit, x, opts["fastnst"]),
            "channels-last": functools.partial(fastnst_step, cl_model, crit, xcl, opts["channels-last"]),
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
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                steps["fastnst"]()
            print(f"where one fastnst step's time goes ({preset}):")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile))


if __name__ == "__main__":
    main()
