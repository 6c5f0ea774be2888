"""The ``fastnst`` command line.

Each subcommand maps its flags onto a library config dataclass and imports what it needs
(torch, onnxruntime, ...) only when it runs, so ``fastnst --help`` is instant.
Errors the user can cause print one line ``fastnst: error: ...`` and exit 2; anything
else is a bug and exits 1 (``FASTNST_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from . import __version__
from .errors import UserError
from .runtime_devices import DEVICE_NAMES  # the devices of the runtime commands' --device (no onnxruntime import)

PROG = "fastnst"


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default, unless it is None/False or the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


# ----------------------------------------------------------------------------- flag types


# Numeric flags are parsed with int / float only: their bounds are the config dataclasses' validate(), which
# each command calls before any work (a bad value is the same one-line error, exit 2).


def need_torch(command: str, module: str = "torch") -> None:
    """A UserError naming the install command when ``module`` (of the [train] extra), which ``command``
    needs, is missing. The base install has no torch: it runs styles, it does not make them."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        what = "PyTorch" if module == "torch" else module
        raise UserError(f"'{PROG} {command}' needs {what}, which is not installed: "
                        "pip install 'fastnst[train]' (in a clone: pip install -e '.[train]')") from None


def layer_list(text: str) -> tuple[str, ...]:
    layers = tuple(s.strip() for s in text.split(",") if s.strip())
    if not layers:
        raise argparse.ArgumentTypeError("give at least one layer, e.g. relu1_1,relu2_1")
    return layers


def given_flags(cls, args: argparse.Namespace) -> dict:
    """The flags of ``args`` that are fields of the config dataclass ``cls``, None (not given) left out."""
    from dataclasses import fields

    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}


def refuse_with_resume(flags: dict, args: argparse.Namespace) -> None:
    """``--resume`` continues a run with its own settings: a UserError naming every other setting given
    (``flags``: :func:`given_flags`; a recipe too), which would otherwise be ignored. ``--iterations``
    is the one that can change (it lengthens the run)."""
    given = [n for n in flags if n != "iterations"] + [n for n in ("recipe", "data_root") if getattr(args, n, None)]
    if given:
        names = ", ".join("--" + n.replace("_", "-") for n in given)
        raise UserError(f"--resume continues the run with its own settings; only --iterations can be given "
                        f"with it (drop {names})")


def config_from_args(cls, args: argparse.Namespace):
    """The config dataclass ``cls`` from the flags of the same names; a flag not given keeps the field's default."""
    from .config import from_dict

    return from_dict(cls, given_flags(cls, args))


def add_max_side_flags(p: argparse.ArgumentParser, default: int | None) -> None:
    """``--max-side PX`` / ``--full-size``: the working size, the stroke size of the bundled styles (README
    "Stroke size"); ``default``: the config's (:data:`fastnst.config.STILL_MAX_SIDE` or ``LIVE_MAX_SIDE``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--max-side", type=int, metavar="PX",
                   help="stroke size: stylize at most at this long side, then scale back up (smaller: larger "
                        f"strokes, faster; default: {default})")
    g.add_argument("--full-size", action="store_true",
                   help="stylize at the full size: the finest strokes (on a big frame, a fine texture), slowest")


def image_options(cls, args: argparse.Namespace):
    """:func:`config_from_args` for an :class:`fastnst.config.ImageOptions` class, ``--full-size`` as max_side None."""
    from dataclasses import replace

    options = config_from_args(cls, args)
    return replace(options, max_side=None) if getattr(args, "full_size", False) else options


def shown(text: str, default) -> str:
    """Help text that names a flag's default: for flags that default to None, so that what was given can
    be told from what was not (``train --recipe``: the flags given beat the recipe)."""
    return text if default in (None, False) else f"{text} (default: {default})"


def add_loss_flags(p: argparse.ArgumentParser, defaults) -> None:
    """The loss-network and loss-weight flags shared by ``optimize`` and ``train``.

    ``defaults`` is the command's config dataclass instance, for the weights' defaults.
    """
    g = p.add_argument_group("loss")
    g.add_argument("--content-weight", type=float,
                   help=shown("weight of the content loss", defaults.content_weight))
    g.add_argument("--style-weight", type=float,
                   help=shown("weight of the style loss; higher: more style, less photo", defaults.style_weight))
    g.add_argument("--tv-weight", type=float,
                   help=shown("weight of the total-variation (smoothness) loss", defaults.tv_weight))
    g.add_argument("--loss-net", metavar="SPEC", default=None,
                   help="loss network: vgg16, vgg19, vgg16:PATH, vgg19:PATH, vgg19-normalised:PATH, "
                        "vgg19-normalised+random-deep:PATH, random-vgg16[:SEED], random-vgg19[:SEED] "
                        "(default: $FASTNST_LOSS_NET, else vgg16)")
    g.add_argument("--style-layers", type=layer_list, metavar="L1,L2,..",
                   help="style layers, comma separated (default: the loss net's, e.g. relu1_1..relu5_1 for VGG-19)")
    g.add_argument("--content-layer", metavar="LAYER", help="content layer (default: the loss net's)")
    g.add_argument("--style-scales", type=int, metavar="N",
                   help=shown("Gaussian-pyramid levels of the style loss: each level matches the style at half "
                              "the resolution, for strokes 2x larger than the loss net alone sees (1: single scale)",
                              defaults.style_scales))


# ----------------------------------------------------------------------------- subcommands


def _add_optimize(sub) -> None:
    from .config import INITS, OPTIMIZERS, OptimizeConfig

    d = OptimizeConfig()
    p = sub.add_parser(
        "optimize", formatter_class=_Formatter,
        help="slow reference stylization (Gatys et al.): optimise the image itself",
        description="Stylize one image by optimising its pixels against the Gatys perceptual loss "
                    "(the slow reference mode; minutes on a CPU). Without CONTENT and STYLE it uses the "
                    "bundled sample photo and the bundled sample pattern.",
    )
    p.add_argument("content", nargs="?", help="content image (default: bundled sample photo)")
    p.add_argument("style", nargs="?", help="style image (default: bundled sample pattern)")
    p.add_argument("-o", "--output", help="output image, format from the extension (default: stylized.png, "
                                        "which is never replaced without --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace the default output if it exists")
    p.add_argument("--size", type=int, default=d.size, help="long side of the output, pixels")
    p.add_argument("--iterations", type=int, default=d.iterations, help="optimizer steps")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="optimizer")
    p.add_argument("--lr", type=float, default=None, help="step size (default: 1 for L-BFGS, 0.02 for Adam)")
    p.add_argument("--init", choices=INITS, default=d.init, help="starting image")
    p.add_argument("--style-scale", type=float, default=d.style_scale,
                   help="style image long side relative to the output's; below 1 gives larger-scale strokes")
    p.add_argument("--preserve-color", action="store_true", help="keep the content's colours (luminance-only transfer)")
    add_loss_flags(p, d)
    p.add_argument("--style-layer-weights", type=weight_list, metavar="W1,W2,..",
                   help="one weight per style layer (default: 1 each)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (for --init noise)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_optimize)


def _run_optimize(args) -> int:
    from .config import OptimizeConfig

    cfg = config_from_args(OptimizeConfig, args)
    cfg.validate()  # before torch, the images and the loss net
    need_torch("optimize")
    from . import image as im
    from .allocator import reuse_freed_memory
    from .files import check_not_input, free_default
    from .optimize import optimize

    content = im.load_image(args.content) if args.content else im.sample_content()
    style = im.load_image(args.style) if args.style else im.sample_style()
    inputs = [p for p in (args.content, args.style) if p]
    args.output = args.output or free_default("stylized.png", args.overwrite)
    check_not_input(args.output, inputs)
    reuse_freed_memory()  # this process is ours: keep freed activations' memory (fastnst.allocator)
    result, stats = optimize(content, style, cfg, progress=not args.quiet)
    im.save_image(args.output, result, inputs=inputs)
    loss = stats["loss"]
    print(f"loss total {loss['total']:.4g}  content {loss['content']:.4g}  style {loss['style']:.4g}  "
          f"tv {loss['tv']:.4g}  (style distance {stats['style_distance_content']:.4g} -> "
          f"{stats['style_distance_result']:.4g}; loss net {stats['loss_net']})")
    print(f"wrote {args.output}")
    return 0


def unit_list(text: str) -> tuple[int, ...]:
    try:
        units = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"units are channel numbers, e.g. 0,5,17; got '{text}'") from None
    if not units:
        raise argparse.ArgumentTypeError("give at least one unit, e.g. 0,5,17")
    return units


def weight_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"weights are numbers, e.g. 1,0.5,0; got '{text}'") from None


def _add_layers(sub) -> None:
    from .config import LAYER_PICTURES, LayersConfig

    d = LayersConfig()
    p = sub.add_parser(
        "layers", formatter_class=_Formatter,
        help="the layer explorer: what each layer of the loss network sees",
        description="Pictures of what the loss network's layers see, written as OUT.png and OUT.json. "
                    "'patches': for units of a layer, the photo patches that excite each most (Zeiler and Fergus "
                    "2014), over a folder of photos indexed once (cached in $FASTNST_CACHE). 'reconstruct': images "
                    "made from noise to match one layer's activations of a photo, and the Gram matrices of growing "
                    "sets of layers of a painting (Gatys et al. 2016, Figure 1). 'gram': a painting's Gram matrix "
                    "at a layer as a heat map, and a texture from all style layers weighted by "
                    "--style-layer-weights. The loss net is --loss-net, else vgg19-normalised from the data root's "
                    "weights/, else $FASTNST_LOSS_NET, else vgg16.",
    )
    p.add_argument("picture", choices=LAYER_PICTURES, help="which picture")
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="reconstruct: PHOTO [PAINTING]; gram: PAINTING (default: the bundled sample photo and "
                        "sample pattern)")
    p.add_argument("-o", "--output", metavar="OUT.png",
                   help="picture to write, and its JSON beside it (default: layers_PICTURE.png, never replaced "
                        "without --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs if they exist")
    p.add_argument("--loss-net", metavar="SPEC",
                   help="loss network: vgg16, vgg19, vgg16:PATH, vgg19:PATH, vgg19-normalised:PATH, "
                        "vgg19-normalised+random-deep:PATH, random-vgg16[:SEED], random-vgg19[:SEED]")
    p.add_argument("--data-root", metavar="DIR",
                   help="folder holding weights/vgg_normalised_conv3_1.pth and content/bsds500/train, e.g. "
                        "../shared/data (default: $FASTNST_DATA)")
    p.add_argument("--layer", metavar="LAYER",
                   help="patches, gram: the layer shown, e.g. relu2_1 (default: the deepest style layer)")
    p.add_argument("--layers", type=layer_list, metavar="L1,L2,..",
                   help="reconstruct, gram: the layers of the rows and the texture (default: the style layers)")
    g = p.add_argument_group("patches")
    g.add_argument("--units", type=unit_list, metavar="U1,U2,..", help="units (channels) shown (default: random)")
    g.add_argument("--num-units", type=int, default=d.num_units, help="random units shown")
    g.add_argument("--top", type=int, default=d.top, help="patches per unit")
    g.add_argument("--photos", metavar="DIR",
                   help="folder of photos, searched recursively (default: BSDS500 train under the data root, "
                        "else scikit-image's sample photos)")
    g.add_argument("--max-photos", type=int, default=d.max_photos, help="photos searched, spread over the folder")
    g.add_argument("--photo-size", type=int, default=d.photo_size, help="long side the photos are fed at, pixels")
    g = p.add_argument_group("reconstruct and gram")
    g.add_argument("--size", type=int, default=d.size, help="long side of the reconstructions, pixels")
    g.add_argument("--iterations", type=int, default=d.iterations, help="L-BFGS steps per reconstruction")
    g.add_argument("--style-layer-weights", type=weight_list, metavar="W1,W2,..",
                   help="gram: one weight per layer of --layers for the texture (default: 1 each)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (units, starting noise)")
    p.add_argument("--device", default=d.device, help="cpu, cuda, cuda:N or auto")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_layers)


def _run_layers(args) -> int:
    from .config import LayersConfig

    cfg = config_from_args(LayersConfig, args)
    cfg.validate()
    most = {"patches": 0, "reconstruct": 2, "gram": 1}[args.picture]
    if len(args.images) > most:
        raise UserError(f"layers {args.picture} takes at most {most} image{'s' * (most != 1)}, "
                        f"got {len(args.images)}")
    need_torch("layers")
    from . import image as im
    from .files import check_not_input, free_default

    images = [im.load_image(path) for path in args.images]  # not an image: one line, before any work
    output = args.output or free_default(f"layers_{args.picture}.png", args.overwrite)
    meta = os.path.splitext(output)[0] + ".json"
    if os.path.lexists(meta) and not args.overwrite:
        raise UserError(f"{meta} exists: name another output with -o, or pass --overwrite to replace it")
    check_not_input(output, args.images)
    check_not_input(meta, args.images)
    from . import layers

    if args.picture == "patches":
        picture, info = layers.patches_picture(cfg, progress=not args.quiet)
    elif args.picture == "reconstruct":
        photo = images[0] if images else im.sample_content()
        painting = images[1] if len(images) > 1 else im.sample_style()
        picture, info = layers.figure1(photo, painting, cfg, progress=not args.quiet)
    else:
        picture, info = layers.gram_picture(images[0] if images else im.sample_style(), cfg, progress=not args.quiet)
    layers.save_picture(output, picture, info, inputs=args.images)
    print(f"wrote {output} and {meta}")
    return 0


def _add_train(sub) -> None:
    from .config import AMP_MODES, LR_SCHEDULES, TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train", formatter_class=_Formatter,
        help="train a fast style network for one style",
        description="Train a feed-forward style network (Johnson et al. 2016) on the Gatys perceptual loss. "
                    "Writes RUN_DIR/model.pth, checkpoints, log.csv and previews. Several processes or GPUs: "
                    "torchrun --nproc-per-node N -m fastnst train ...",
    )
    p.add_argument("--style", action="append", metavar="IMAGE_OR_FOLDER",
                   help="style image (required unless --resume); give it several times, or a folder of paintings, "
                        "to train one multi-style network on all of them")
    p.add_argument("--data", help="folder of content images, searched recursively (required unless --resume)")
    p.add_argument("-o", "--output", metavar="RUN_DIR", help="run folder (required unless --resume)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run exactly from its newest checkpoint "
                                                       "with its own settings (no other flag but --iterations "
                                                       "and -q); with --iterations N, "
                                                       "extend it to N steps (the learning rate is planned "
                                                       "anew for the longer run)")
    p.add_argument("--recipe", metavar="FILE", help="JSON file of settings (keys as the flags, with _ for -); "
                                                    "flags given here override it. See training/")
    p.add_argument("--data-root", metavar="DIR", help="folder that relative style/data/val paths in the recipe "
                                                      "are taken from (default: the recipe's folder)")
    p.add_argument("--preset", help=shown("network preset: johnson or lite", d.preset))
    p.add_argument("--image-size", type=int, help=shown("training crop size, pixels", d.image_size))
    p.add_argument("--style-size", type=int, help="style image long side (default: --image-size)")
    p.add_argument("--crop-min", type=float,
                   help=shown("smallest training crop side, as a fraction of the photo's short side", d.crop_min))
    p.add_argument("--crop-max", type=float,
                   help=shown("largest training crop side, as a fraction of the photo's short side (with "
                        "--image-size it sets how much the photos are scaled down while training)", d.crop_max))
    p.add_argument("--batch-size", type=int, help=shown("images per step and process", d.batch_size))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--iterations", type=int, help=shown("training steps", d.iterations))
    g.add_argument("--epochs", type=float, help="passes over the data (instead of --iterations)")
    p.add_argument("--lr", type=float, help=shown("Adam learning rate", d.lr))
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help=shown("cosine decays to lr/10 over the run", d.lr_schedule))
    add_loss_flags(p, d)
    p.add_argument("--temporal-weight", type=float,
                   help=shown("weight of the temporal loss (0: off): each batch is also warped by a random smooth "
                        "flow, and outputs that do not follow the motion are penalised; steadier video, "
                        "one more network pass per step", d.temporal_weight))
    p.add_argument("--val", metavar="DIR", help="folder of preview images (default: the first training images)")
    p.add_argument("--preview-every", type=int, help=shown("steps between previews", d.preview_every))
    p.add_argument("--log-every", type=int, help=shown("steps between log.csv rows", d.log_every))
    p.add_argument("--checkpoint-every", type=int, help=shown("steps between checkpoints", d.checkpoint_every))
    p.add_argument("--keep", type=int, help=shown("checkpoints to keep", d.keep))
    p.add_argument("--workers", type=int,
                   help="data-loading processes (0: in the main process; default: 0 on the CPU, 2 on a GPU)")
    p.add_argument("--seed", type=int, help=shown("random seed", d.seed))
    p.add_argument("--device", help=shown("cpu, cuda, cuda:N or auto", d.device))
    p.add_argument("--channels-last", action="store_true", default=None, help="channels-last memory format")
    p.add_argument("--amp", choices=AMP_MODES,
                   help=shown("mixed precision (bf16 on CPU or GPU, fp16 on GPU)", d.amp))
    p.add_argument("--style-name", help="name recorded in the model (default: the style file's name)")
    p.add_argument("--add-style", dest="style", action="append", metavar="PAINTING",
                   help="with --base: the painting to add to that network as a new style (same as --style)")
    p.add_argument("--base", metavar="MODEL.pth",
                   help="add the style to this trained network (one- or multi-style): only the new style's "
                        "instance-norm scale and shift are trained, every other weight is kept as it is; "
                        "minutes instead of a full training")
    p.add_argument("--save-half", action="store_true", default=None,
                   help="store the final model's weights as fp16 (half the size)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from .config import TrainConfig, load_recipe, train_config

    if args.resume:  # the run's own settings are used: only --iterations may be given
        flags = given_flags(TrainConfig, args)
        refuse_with_resume(flags, args)
        train_config(None, flags).validate()
    else:
        recipe = load_recipe(args.recipe, args.data_root) if args.recipe else None
        cfg = train_config(recipe, given_flags(TrainConfig, args))  # flags beat the recipe
        missing = [f"--{n}" for n in ("style", "data", "output") if not getattr(cfg, n)]
        if missing:
            raise UserError(f"train needs {', '.join(missing)} (or --resume RUN_DIR)")
        cfg.validate()  # before torch, the data scan and the loss network
    need_torch("train")
    from .allocator import reuse_freed_memory
    from .train import train

    reuse_freed_memory()  # this process is ours: keep freed activations' memory (fastnst.allocator)
    if args.resume:
        out = train(resume=args.resume, progress=not args.quiet, iterations=args.iterations)
    else:
        out = train(cfg, progress=not args.quiet)
    print(f"wrote {out}")
    return 0


def _add_train_decoder(sub) -> None:
    from .config import DECODER_INITS, DECODER_LEVELS, LR_SCHEDULES, UPSAMPLE_MODES, DecoderConfig

    d = DecoderConfig()
    p = sub.add_parser(
        "train-decoder", formatter_class=_Formatter,
        help="train a decoder for arbitrary styles (any painting, no training per style)",
        description="Train a decoder that turns the loss network's features at one level (relu1_1, relu2_1 or "
                    "relu3_1) back into the photo: pixel and feature reconstruction losses on random crops. "
                    "Paintings enter only at run time, through a transform of the features (WCT/AdaIN), so one "
                    "set of decoders serves every painting. Writes RUN_DIR/decoder.pth, checkpoints and log.csv "
                    "(validation PSNR on --val). Recipes: training/recipes/decoders/.",
    )
    p.add_argument("--level", choices=DECODER_LEVELS, help=shown("the encoder level the decoder inverts", d.level))
    p.add_argument("--data", help="folder of photos, searched recursively (required unless --resume)")
    p.add_argument("--val", metavar="DIR", help="folder of held-out photos for the validation PSNR")
    p.add_argument("-o", "--output", metavar="RUN_DIR", help="run folder (required unless --resume)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run exactly from its newest checkpoint "
                                                       "with its own settings (no other flag but --iterations "
                                                       "and -q); with --iterations N, "
                                                       "extend it to N steps (the learning rate is planned "
                                                       "anew for the longer run)")
    p.add_argument("--recipe", metavar="FILE", help="JSON file of settings (keys as the flags, with _ for -); "
                                                    "flags given here override it")
    p.add_argument("--data-root", metavar="DIR", help="folder that relative data/val/loss-net paths in the recipe "
                                                      "are taken from (default: the recipe's folder)")
    p.add_argument("--loss-net", metavar="SPEC", help="the encoder: a loss-net spec reaching the level, e.g. "
                                                      "vgg19-normalised:PATH (default: $FASTNST_LOSS_NET, else vgg16)")
    p.add_argument("--width", type=float, help=shown("scale of the decoder's hidden channels (1: the encoder's)",
                                                     d.width))
    p.add_argument("--image-size", type=int, help=shown("training crop size, pixels", d.image_size))
    p.add_argument("--crop-min", type=float, help=shown("smallest crop side, fraction of the photo's short side",
                                                        d.crop_min))
    p.add_argument("--crop-max", type=float, help=shown("largest crop side, fraction of the photo's short side",
                                                        d.crop_max))
    p.add_argument("--batch-size", type=int, help=shown("crops per step", d.batch_size))
    p.add_argument("--iterations", type=int, help=shown("training steps", d.iterations))
    p.add_argument("--lr", type=float, help=shown("Adam learning rate", d.lr))
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, help=shown("cosine decays to lr/10", d.lr_schedule))
    p.add_argument("--init", choices=DECODER_INITS,
                   help=shown("the decoder's start: lstsq solves the pixel loss exactly first (relu1_1 only: "
                              "a decoder that is one linear conv)", d.init))
    p.add_argument("--upsample", choices=UPSAMPLE_MODES,
                   help=shown("how the decoder scales up 2x: nearest (as the AdaIN/WCT decoders) or bilinear "
                              "(less of a repeated 2- or 4-px pattern)", d.upsample))
    p.add_argument("--init-from", metavar="DECODER.pth",
                   help="start from this decoder file's weights (same level and width): a fine-tune")
    p.add_argument("--transfer", type=float,
                   help=shown("fraction of each batch decoded from features whitened and coloured to another "
                              "photo's statistics, as a painting's are at run time (their loss: the feature "
                              "error at the level)", d.transfer))
    p.add_argument("--init-batches", type=int, help=shown("batches of crops the lstsq start is solved on",
                                                          d.init_batches))
    p.add_argument("--pixel-weight", type=float, help=shown("weight of the image's squared error", d.pixel_weight))
    p.add_argument("--feature-weight", type=float,
                   help=shown("weight of the features' squared error, summed over the levels up to --level",
                              d.feature_weight))
    p.add_argument("--val-every", type=int, help=shown("steps between validation PSNRs", d.val_every))
    p.add_argument("--val-images", type=int, help=shown("validation photos used", d.val_images))
    p.add_argument("--val-size", type=int, help=shown("side of the validation photos' centre crops", d.val_size))
    p.add_argument("--log-every", type=int, help=shown("steps between log.csv rows", d.log_every))
    p.add_argument("--checkpoint-every", type=int, help=shown("steps between checkpoints", d.checkpoint_every))
    p.add_argument("--keep", type=int, help=shown("checkpoints to keep", d.keep))
    p.add_argument("--seed", type=int, help=shown("random seed", d.seed))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_train_decoder)


def _run_train_decoder(args) -> int:
    from .config import DecoderConfig, from_dict, load_recipe

    flags = given_flags(DecoderConfig, args)
    if args.resume:  # the run's own settings are used: only --iterations may be given
        refuse_with_resume(flags, args)
        from_dict(DecoderConfig, flags).validate()
        cfg = None
    else:
        recipe = load_recipe(args.recipe, args.data_root, DecoderConfig) if args.recipe else {}
        cfg = from_dict(DecoderConfig, {**recipe, **flags}, what="decoder settings")
        missing = [f"--{n}" for n in ("data", "output") if not getattr(cfg, n)]
        if missing:
            raise UserError(f"train-decoder needs {', '.join(missing)} (or --resume RUN_DIR)")
        cfg.validate()
    need_torch("train-decoder")
    from .allocator import reuse_freed_memory
    from .train_decoder import train_decoder

    reuse_freed_memory()
    out = train_decoder(cfg, resume=args.resume, progress=not args.quiet,
                        iterations=args.iterations if args.resume else None)
    print(f"wrote {out}")
    return 0


def _add_export_arbitrary(sub) -> None:
    from .config import LEVEL_STRENGTHS

    p = sub.add_parser(
        "export-arbitrary", formatter_class=_Formatter,
        help="export decoders as an any-painting style (two ONNX files)",
        description="Export decoders trained by 'fastnst train-decoder' (one per level; several: multi-level, "
                    "coarse to fine) with their encoder as OUT.onnx (per frame) and OUT.painting.onnx (the "
                    "painting's statistics, computed once per painting), checked against PyTorch first. "
                    "'-s painting.jpg' runs the shipped pair, fastnst/pretrained/arbitrary/wct.onnx.",
    )
    p.add_argument("decoders", nargs="+", metavar="DECODER.pth", help="decoder files, one per level")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx", help="the per-frame file")
    p.add_argument("--loss-net", required=True, metavar="SPEC",
                   help="the encoder the decoders were trained on, with its weights (vgg19-normalised:PATH)")
    p.add_argument("--transform", choices=("wct", "adain"), default="wct",
                   help="whitening and colouring (WCT) or per-channel mean and std (AdaIN)")
    shipped = ", ".join(f"{level}={s:g}" for level, s in LEVEL_STRENGTHS.items())
    p.add_argument("--level-strength", action="append", default=[], metavar="LEVEL=S",
                   help="how far LEVEL's features move to the painting's at style strength 1, in [0, 1] "
                        f"(repeatable; default: {shipped}, fastnst.config.LEVEL_STRENGTHS)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch check")
    p.set_defaults(func=_run_export_arbitrary)


def _level_strengths(items: list[str]) -> dict[str, float]:
    """--level-strength's LEVEL=S items -> {level: S} (the levels and ranges checked by config.level_strengths)."""
    out = {}
    for item in items:
        level, sep, value = item.partition("=")
        try:
            out[level.strip()] = float(value)  # a NaN or an unknown level: config.level_strengths says so
        except ValueError:
            sep = ""
        if not sep:
            raise UserError(f"--level-strength takes LEVEL=S (e.g. relu1_1=0.7), got '{item}'")
    return out


def _run_export_arbitrary(args) -> int:
    if not args.output.lower().endswith(".onnx"):
        raise UserError(f"-o must name an .onnx file, got '{args.output}'")
    need_torch("export-arbitrary")
    need_torch("export-arbitrary", "onnx")
    from .export_arbitrary import export_arbitrary, report_lines

    report = export_arbitrary(args.decoders, args.output, args.loss_net, transform=args.transform,
                              strengths=_level_strengths(args.level_strength), check=not args.no_check)
    for line in report_lines(report):
        print(line)
    return 0


def add_painting_flags(p: argparse.ArgumentParser) -> None:
    """``--style-strength`` and ``--style-size``: how a painting given as the style runs (PaintingOptions)."""
    from .config import PAINTING_SIZE

    g = p.add_argument_group("any painting (-s PAINTING.jpg: any image file as the style, no training)")
    g.add_argument("--style-strength", type=float, metavar="ALPHA",
                   help="how far the photo's features move to the painting's statistics, 0..1 (default: 1)")
    g.add_argument("--style-size", type=int, metavar="PX",
                   help=f"the painting's long side before it is read: sets the strokes' size, smaller for larger "
                        f"strokes (default: {PAINTING_SIZE})")


def painting_options(args: argparse.Namespace):
    """The checked :class:`fastnst.config.PaintingOptions` of ``--style-strength`` / ``--style-size``."""
    from .config import PaintingOptions

    options = config_from_args(PaintingOptions, args)
    options.validate()
    return options


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export", formatter_class=_Formatter,
        help="export a trained model to ONNX (checked against PyTorch)",
        description="Export a fastnst model file (.pth) to ONNX: input 'image', output 'stylized', both float32 "
                    "RGB NCHW in [0, 1], dynamic batch, height and width (opset 18). The file carries the preset, "
                    "style and training settings as metadata (see 'fastnst info'). Unless --no-check, the export is "
                    "run with onnxruntime on several image sizes and compared with PyTorch (max abs diff <= 1e-3; "
                    "PSNR >= 40 dB with --fp16); a failing export writes nothing.",
    )
    p.add_argument("model", metavar="MODEL", nargs="?",
                   help="model file (.pth) written by 'fastnst train', an exported .onnx file (with --triton, --web, "
                        "--int8 or --uint8-io), or a bundled style's name (wave, wave_lite: its shipped .pth or "
                        ".onnx); with --arbitrary, an any-painting export (default: the shipped pair)")
    p.add_argument("-o", "--output", metavar="OUT.onnx", help="ONNX file to write (needed unless --triton or --web)")
    p.add_argument("--fp16", action="store_true",
                   help="compute in half precision (instance norms stay fp32); inputs and outputs stay float32")
    p.add_argument("--int8", action="store_true",
                   help="write an int8 copy for CPUs: static quantization (QDQ), calibrated on photos (BSDS500 val "
                        "under --data-root or $FASTNST_DATA, else crops of the sample photo), depthwise convs and "
                        "instance norms in float; checked against fp32 on held-out photos (BSDS500 test, else "
                        "generated images: PSNR >= 35 dB, no new repeated texture). MODEL may also be an fp32 .onnx "
                        "export")
    p.add_argument("--data-root", metavar="DIR",
                   help="with --int8: a folder holding content/bsds500/ (val and test), e.g. ../shared/data")
    p.add_argument("--uint8-io", action="store_true",
                   help="the file takes and returns uint8 RGB NHWC frames (scale, cast and transposes inside the "
                        "graph: 6 MB a 1080p frame instead of 25 MB); checked within one 8-bit level of the float "
                        "file. MODEL may also be a float .onnx export")
    p.add_argument("--style", metavar="NAME|BLEND",
                   help="for a multi-style model file: export one of its styles (wave) or a blend (wave+starry_night, "
                        "wave:0.7,starry_night:0.3) as a plain one-input file, e.g. for OpenCV DNN; without it the "
                        "file takes the style weights as a second input ('style') and runs any blend")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison")
    p.add_argument("--triton", metavar="DIR",
                   help="also add the model to this Triton Inference Server model repository: "
                        "DIR/NAME/config.pbtxt (platform onnxruntime_onnx, max_batch_size 8, dynamic batching, "
                        "height and width -1) and DIR/NAME/1/model.onnx")
    p.add_argument("--triton-name", metavar="NAME",
                   help="model name in the Triton repository (default: STYLE_PRESET from the metadata)")
    p.add_argument("--web", metavar="DIR",
                   help="also write a static web page that runs the style in the browser with onnxruntime-web "
                        "(WASM or WebGPU, image or webcam): DIR/index.html, model.onnx, ort/ and serve.py. "
                        "onnxruntime-web's files come from $FASTNST_ORT_WEB (a node_modules/onnxruntime-web/dist "
                        "folder) or are installed once with npm into $FASTNST_CACHE (default ~/.cache/fastnst)")
    p.add_argument("--overwrite", action="store_true", help="with --web: replace the web kit already in DIR")
    p.add_argument("--arbitrary", action="store_true",
                   help="with --web: a page that takes any painting the visitor picks (the shipped any-painting pair "
                        "fastnst/pretrained/arbitrary/wct.onnx, or MODEL made by 'fastnst export-arbitrary'), with a "
                        "style strength and a stroke size (the painting's size)")
    p.add_argument("--painting", action="append", metavar="IMAGE",
                   help="with --arbitrary: also offer this painting in the page as an example (copied into DIR/"
                        "paintings/; repeat for more); a generated sample pattern is always offered")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from .config import ExportConfig
    from .styles import export_source

    cfg = config_from_args(ExportConfig, args)
    cfg = replace(cfg, model=export_source(cfg.model, cfg.output, cfg.int8, cfg.uint8_io, cfg.arbitrary))  # its file
    cfg.validate()  # before torch is asked for
    if not cfg.from_onnx:
        need_torch("export")
    if cfg.int8 or cfg.uint8_io or cfg.triton:
        need_torch("export --int8 / --uint8-io / --triton", "onnx")
    from .exportchain import run_export

    for line in run_export(cfg):
        print(line, flush=True)
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser(
        "info", formatter_class=_Formatter,
        help="show the metadata of an exported ONNX model",
        description="Print what 'fastnst export' stored in an ONNX file: fastnst version, preset, style, "
                    "precision, the input/output spec, the network layout and the training settings.",
    )
    p.add_argument("model", metavar="MODEL",
                   help="ONNX file written by 'fastnst export', or a bundled style (wave_lite)")
    p.set_defaults(func=_run_info)


def _run_info(args) -> int:
    from .runtime import describe_metadata, read_metadata
    from .styles import choose

    args.model = str(choose(args.model).file.path)  # a file, or the file a bundled style's name runs here
    meta = read_metadata(args.model)
    print("\n".join(describe_metadata(args.model, meta)))
    return 0


STYLE_HELP = "a style: a bundled name (wave), NAME_PRESET (wave_lite), a bundled file name or an .onnx path " \
             "(see 'fastnst styles'), or any painting: an image file (painting.jpg; see --style-strength, --style-size)"


def _add_stylize(sub) -> None:
    from .config import MIN_TILE, StylizeOptions

    d = StylizeOptions()
    p = sub.add_parser(
        "stylize", formatter_class=_Formatter,
        help="stylize images with a trained style (ONNX)",
        description="Stylize image files, folders (searched recursively) and globs with an exported style. "
                    "One input: OUT is a file (default: NAME_STYLE.png beside the input). Several inputs: OUT "
                    "is a folder (default: stylized_STYLE). An input is never overwritten, and an existing file "
                    "is replaced only where you named it (-o FILE) or with --overwrite. Folders and globs skip "
                    "this style's own earlier outputs (NAME_STYLE.* and stylized_STYLE/). A file that fails is "
                    "reported and the rest go on (exit status 2 if any failed).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("-s", "--style", required=True, help=STYLE_HELP)
    p.add_argument("-o", "--output", help="output file (one input) or folder (several inputs)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--strength", type=float, default=d.strength, help="0: the input, 1: fully stylized")
    p.add_argument("--preserve-color", action="store_true", help="keep the input's colours")
    add_max_side_flags(p, d.max_side)
    p.add_argument("--tile", type=int, help=f"run in overlapping tiles of this size, at least {MIN_TILE} "
                                            "(bounded memory)")
    p.add_argument("--device", default="auto", choices=DEVICE_NAMES,
                   help="onnxruntime execution provider")
    p.add_argument("--value-range", type=float, default=d.value_range, metavar="R",
                   help="the pixel range the model works in: 1 for fastnst models, 255 for the ONNX Model Zoo's "
                        "fast_neural_style models")
    p.add_argument("--format", default="png", help="output format for folder output (png, jpg, webp, ...)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_painting_flags(p)
    p.set_defaults(func=_run_stylize)


def _run_stylize(args) -> int:
    import json

    from tqdm import tqdm

    from .batch import batch_outputs, expand_inputs, stylize_files
    from .config import StylizeOptions
    from .runtime import load_style

    options = image_options(StylizeOptions, args)
    options.validate()  # before the model loads
    painting = painting_options(args)
    stylizer = load_style(args.style, "image", device=args.device, value_range=options.value_range, painting=painting)
    files, skipped = expand_inputs(args.inputs, stylizer.style)
    if skipped and not args.quiet:
        print(f"{PROG}: skipped {len(skipped)} earlier output{'s' * (len(skipped) > 1)} of this style "
              f"(e.g. {skipped[0]}); name a file to stylize it", file=sys.stderr)
    if not files:
        raise UserError("no input images found")
    folder = len(files) > 1 or bool(args.output and os.path.isdir(args.output))
    ext = "." + args.format.lstrip(".").lower() if folder else ".png"
    targets = batch_outputs(files, args.output, stylizer.style, ext, overwrite=args.overwrite)
    results, failed = [], 0
    done = stylize_files(stylizer, files, targets, strength=options.strength, preserve_color=options.preserve_color,
                         max_side=options.max_side, tile=options.tile)
    for src, dst, error in tqdm(done, total=len(files), desc=f"stylize {stylizer.style}", unit="img",
                                disable=args.quiet or len(files) < 2, dynamic_ncols=True):
        results.append({"input": src, "output": dst, "ok": error is None, **({"error": error} if error else {})})
        if error:
            failed += 1
            print(f"{PROG}: error: {error}", file=sys.stderr)
        elif not args.json:
            tqdm.write(f"wrote {dst}")
    if args.json:
        print(json.dumps({"style": stylizer.style, "preset": stylizer.preset, "provider": stylizer.provider,
                          "files": results, "skipped": skipped, "failed": failed}, indent=2))
    return 2 if failed else 0


def _add_styles(sub) -> None:
    p = sub.add_parser(
        "styles", formatter_class=_Formatter, help="list the bundled styles and yours",
        description="List the styles shipped with fastnst (exported ONNX models), and your own "
                    "($FASTNST_HOME/styles, default ~/.local/share/fastnst/styles: the web app's 'Add your "
                    "painting'). The first column is the exact name to pass to -s/--style; the style's name alone "
                    "(wave) also works and picks the preset for the job: the fast lite network for live video on a "
                    "CPU, johnson where it pays "
                    "(see 'fastnst.styles.PREFERENCE'). 'copies' are the file's int8 / uint8-I/O copies, which "
                    "the runtime picks where they are faster (fastnst.styles.VARIANT_PREFERENCE).",
    )
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of objects (arg: the -s value, name, preset, path, bytes)")
    p.set_defaults(func=_run_styles)


def _run_styles(args) -> int:
    import json

    from .styles import list_styles, user_styles_dir, variants

    styles = list_styles(".onnx")
    copies = {s: [v.tags for v in variants(s)[1:]] for s in styles}  # int8, uint8io, ...
    if args.json:
        print(json.dumps([{"arg": s.exact_name, "name": s.name, "preset": s.preset, "path": str(s.path),
                           "bytes": s.size_bytes, "copies": copies[s]} for s in styles], indent=2))
    elif not styles:
        print("no styles are bundled with this installation")
    else:
        print(f"{'-s NAME':<26} {'style':<18} {'preset':<8} {'size':>8}  {'file':<28} copies")
        for s in styles:
            print(f"{s.exact_name:<26} {s.name:<18} {s.preset:<8} {s.size_bytes / 1e6:>6.2f}MB  {s.path.name:<28} "
                  f"{', '.join(copies[s]) or '-'}")
        if any(user_styles_dir() in s.path.parents for s in styles):
            print(f"(your own styles are in {user_styles_dir()}: $FASTNST_HOME/styles)")
    return 0


def seconds(text: str) -> float:
    """An argparse type: a time as seconds (12.5) or [HH:]MM:SS(.s) (1:02.5); VideoOptions.validate checks it."""
    try:
        value = 0.0
        for part in text.split(":"):
            value = value * 60 + float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time (seconds, or [HH:]MM:SS)") from None
    if text.count(":") > 2:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time (seconds, or [HH:]MM:SS)")
    return value


def _add_frame_style_flags(p: argparse.ArgumentParser, d) -> None:
    """The per-frame style options of ``video`` and ``webcam`` (as in ``stylize``); ``d``: a FrameOptions.

    Parsed only: the values are checked by ``FrameOptions.validate``.
    """
    from .config import STABILIZE_STRENGTH

    p.add_argument("--strength", type=float, default=d.strength, help="0: the input, 1: fully stylized")
    p.add_argument("--preserve-color", action="store_true", help="keep the input's colours")
    add_max_side_flags(p, d.max_side)
    p.add_argument("--device", default="auto", choices=DEVICE_NAMES,
                   help="onnxruntime execution provider")
    p.add_argument("--stabilize", type=float, nargs="?", const=STABILIZE_STRENGTH, metavar="STRENGTH",
                   help="temporal stabilization against flicker: blend with the previous output warped along "
                        f"the optical flow; STRENGTH in [0, 1] ({STABILIZE_STRENGTH:g} when given without a value)")


def _add_video(sub) -> None:
    from .config import X264_PRESETS, VideoOptions

    d = VideoOptions()
    p = sub.add_parser(
        "video", formatter_class=_Formatter,
        help="stylize a video file (keeps frame rate, size and audio)",
        description="Stylize a video file with an exported style. The output (H.264 in mp4, m4v, mov or mkv) "
                    "keeps the frame rate, frame count, exact frame size (odd sizes too), the display orientation "
                    "and the audio of the converted span. It appears only when complete: an interrupted run "
                    "leaves nothing behind. The input is never overwritten.",
    )
    p.add_argument("input", metavar="IN", help="video file")
    p.add_argument("-s", "--style", required=True, help=STYLE_HELP)
    p.add_argument("-o", "--output", metavar="OUT", help="output video (default: IN_STYLE.mp4 beside the input, "
                                                         "never replacing a file without --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace the default output if it exists")
    _add_frame_style_flags(p, d)
    p.add_argument("--start", type=seconds, default=d.start, help="start at this time (seconds or [HH:]MM:SS)")
    p.add_argument("--duration", type=seconds, help="convert this long (seconds or [HH:]MM:SS; default: to the end)")
    p.add_argument("--crf", type=int, default=d.crf, help="H.264 quality, 0-51: lower is better and bigger")
    p.add_argument("--x264-preset", default=d.x264_preset,
                   help=f"x264 speed preset ({', '.join(X264_PRESETS)}): slower ones make smaller files of the "
                        "same quality but take CPU time from the network")
    p.add_argument("--encode-threads", type=int, default=d.encode_threads,
                   help="x264 encoder threads (0: x264's own choice, about 1.5 per CPU core)")
    p.add_argument("--report", action="store_true",
                   help="print the achieved fps, the Stylizer's own fps and the warping error of the result "
                        "(Lai et al. 2018; lower is more stable; costs two optical flows per frame)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_painting_flags(p)
    p.set_defaults(func=_run_video)


def _run_video(args) -> int:
    from .config import VideoOptions
    from .video import VideoReader, check_video_output, convert_video, quiet_ffmpeg_log

    quiet_ffmpeg_log()  # before the first video is opened
    options = image_options(VideoOptions, args)
    options.validate()
    painting = painting_options(args)
    if args.output:
        check_video_output(args.output, args.input)
    VideoReader(args.input, args.start, args.duration).close()  # a bad input fails before the model loads
    from .allocator import reuse_freed_memory
    from .files import free_default, sigterm_as_exit
    from .runtime import load_style

    reuse_freed_memory()  # this process is ours: frames' buffers are reused, not faulted in afresh
    stylizer = load_style(args.style, "video", device=args.device, spin=False,  # decoder and encoder share the cores
                          painting=painting)
    output = args.output or free_default(f"{os.path.splitext(args.input)[0]}_{stylizer.style}.mp4", args.overwrite)
    with sigterm_as_exit():  # convert_video checks the output again, the default one included
        r = convert_video(args.input, output, stylizer, options, quiet=args.quiet)
    w, h = r.size
    print(f"wrote {r.output} ({r.frames} frames, {w}x{h}, {r.fps:.4g} fps, "
          f"{'audio kept' if r.audio else 'no audio'})")
    if args.report:
        print(f"speed: {r.convert_fps:.2f} fps end to end ({r.seconds:.1f} s); Stylizer alone {r.stylize_fps:.2f} fps "
              f"({stylizer.device})")
        stab = f"stabilize {args.stabilize:g}" if args.stabilize else "no stabilization"
        print(f"warping error: {r.warping_error:.6f} ({stab}; lower is more stable)")
    return 0


def _add_webcam(sub) -> None:
    from .config import WebcamOptions
    from .webcam import KEYS

    d = WebcamOptions()
    p = sub.add_parser(
        "webcam", formatter_class=_Formatter,
        help="stylize a camera (or a stream or file) live, in a window",
        description="Stylize a camera, a stream URL or a video file live. Capture and inference run on separate "
                    "threads and inference always takes the newest frame (stale frames are dropped), so the "
                    "latency stays bounded. The window shows the fps and the capture-to-screen latency. "
                    "Give -s several times to switch styles with n/p. Without a display use --headless "
                    "(with --frames and/or --record). The fps is printed at the end.",
        epilog="keys in the window:\n" + "\n".join(f"  {k:<9} {v}" for k, v in KEYS),
    )
    p.add_argument("-s", "--style", action="append", required=True, metavar="STYLE",
                   help="a bundled style name or an .onnx file; repeat for several (n/p cycle through them)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=d.camera, metavar="N", help="camera index")
    src.add_argument("--source", metavar="FILE|URL", help="a video file (played at its frame rate) or stream URL "
                                                          "instead of a camera")
    _add_frame_style_flags(p, d)
    p.add_argument("--headless", action="store_true", help="no window (machines without a display)")
    p.add_argument("--record", metavar="OUT", help="also write the stylized stream to this video file "
                                                   "(mp4, m4v, mov, mkv)")
    p.add_argument("--frames", type=int, metavar="N", help="stop after N stylized frames")
    p.add_argument("--snapshot-dir", default=d.snapshot_dir, metavar="DIR",
                   help="folder for the space key's snapshots")
    add_painting_flags(p)
    p.set_defaults(func=_run_webcam)


def _run_webcam(args) -> int:
    from .config import WebcamOptions
    from .files import sigterm_as_exit
    from .video import quiet_ffmpeg_log
    from .webcam import run_webcam

    quiet_ffmpeg_log()  # before the source is opened
    options = image_options(WebcamOptions, args)
    options.validate()  # before the styles and the camera open
    painting = painting_options(args)
    with sigterm_as_exit():
        s = run_webcam(args.style, options, painting=painting)
    print(f"{s.frames} frames in {s.seconds:.1f} s: {s.fps:.2f} fps; latency {s.latency_ms:.0f} ms mean, "
          f"{s.max_latency_ms:.0f} ms max; {s.dropped} stale frames dropped")
    if s.record:
        print(f"wrote {s.record} ({s.recorded} frames)")
    return 0


def _add_demo(sub) -> None:
    from .config import DemoConfig

    d = DemoConfig()
    cpu, gpu = d.resolve(gpu=False), d.resolve(gpu=True)
    p = sub.add_parser(
        "demo", formatter_class=_Formatter,
        help="the web app: webcam, image and video stylization in the browser",
        description="Serve the Gradio web app on http://HOST:PORT: live webcam stylization, images (PNG download), "
                    "short video clips, a gallery of the styles and 'Add your painting' (a style of your own, "
                    "kept in $FASTNST_HOME/styles). Runs offline: no analytics, no share link, "
                    "127.0.0.1 only unless --host says otherwise. Without --style it offers the bundled styles and "
                    "yours. Also: python demo/app.py.",
    )
    p.add_argument("-s", "--style", action="append", metavar="FILE.onnx",
                   help="a style model to offer; repeat for several (files named STYLE_PRESET.onnx, e.g. "
                        "wave_lite.onnx and wave_johnson.onnx, are one style with two presets). "
                        "Default: the bundled styles")
    p.add_argument("--device", default="auto", choices=DEVICE_NAMES,
                   help="onnxruntime execution provider; the webcam uses the lite preset on a CPU, johnson on a GPU")
    p.add_argument("--host", default=d.host, help="address to listen on (0.0.0.0: every network interface)")
    p.add_argument("--port", type=int, default=d.port, help="port to listen on")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_mb, help="largest upload, MB")
    p.add_argument("--max-video-seconds", type=float, default=d.max_video_seconds,
                   help="longest clip the Video tab converts, seconds")
    p.add_argument("--max-streams", type=int, default=d.max_streams,
                   help="webcam streams served at once (more wait in the queue)")
    p.add_argument("--stream-max-side", type=int,
                   help="webcam frames are stylized at most at this long side "
                        f"(default: {cpu.stream_max_side} on a CPU, {gpu.stream_max_side} on a GPU)")
    p.add_argument("--max-live", type=int, default=d.max_live,
                   help="WebRTC live webcam connections served at once (more are told to wait)")
    p.add_argument("--live-bitrate", type=float, default=d.live_bitrate, metavar="MBPS",
                   help="Mbit/s of the live video sent back (VP8 at this fixed rate; painted texture needs about "
                        "3 at 640x480); 0: aiortc's encoder, which follows the browser's bandwidth estimate "
                        "between 0.25 and 1.5")
    p.add_argument("--ice-server", dest="ice_servers", action="append", metavar="URL",
                   help="a STUN/TURN server for WebRTC, e.g. stun:stun.example.org:3478; repeat for several. "
                        "Default: none, nothing is contacted (the server's own addresses serve one machine or a LAN)")
    p.add_argument("--data-root", metavar="DIR",
                   help="where 'Add your painting' and the Layers tab find the loss net's weights "
                        "(DIR/weights/vgg_normalised_conv3_1.pth) and photos (DIR/content/bsds500/train; without "
                        "them scikit-image's sample photos). Default: $FASTNST_DATA")
    p.add_argument("--add-style-steps", type=int, default=d.add_style_steps, metavar="N",
                   help="training steps of 'Add your painting' (a few minutes on a 2-core CPU)")
    p.add_argument("--layers-loss-net", metavar="SPEC",
                   help="the loss network the Layers tab explores (default: vgg19-normalised from --data-root's "
                        "weights/, else $FASTNST_LOSS_NET, else vgg16)")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .config import DemoConfig

    options = config_from_args(DemoConfig, args)  # host and port included
    options.validate()  # before gradio loads
    from .webapp import launch

    launch(args.style, args.device, options=options, open_browser=not args.no_browser)
    return 0


def _sizes(text: str):
    from .bench import parse_sizes

    try:
        return parse_sizes(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_bench(sub) -> None:
    from .config import BenchConfig

    d = BenchConfig()
    p = sub.add_parser(
        "bench", formatter_class=_Formatter,
        help="measure frames/s and latency of styles at several frame sizes",
        description="Time Stylizer.stylize (uint8 frame in, stylized frame out) for each model at each size: "
                    "--warmup untimed runs, then --runs timed ones; prints frames/s (1 / median) and the median "
                    "and 90th-percentile latency. Models: the given .onnx files or style names, the random-weight "
                    "models of --preset, or else every bundled style.",
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help=".onnx files or bundled style names")
    p.add_argument("--preset", type=lambda t: [x.strip() for x in t.split(",") if x.strip()], metavar="P1,P2",
                   help="also time random-weight models of these presets (e.g. lite,johnson), exported to a "
                        "temporary folder first (needs torch)")
    p.add_argument("--fp16", action="store_true", help="with --preset: also time half-precision exports")
    p.add_argument("--int8", action="store_true", help="with --preset: also time int8 copies (fastnst export --int8, "
                                                       "unchecked: random weights)")
    p.add_argument("--device", default=d.device, choices=DEVICE_NAMES,
                   help="onnxruntime execution provider, or openvino (OpenVINO on the CPU, pip install openvino)")
    p.add_argument("--sizes", type=_sizes, default=",".join(f"{w}x{h}" for w, h in d.sizes), metavar="WxH,..",
                   help="frame sizes, width x height")
    p.add_argument("--runs", type=int, default=d.runs, help="timed runs per model and size")
    p.add_argument("--warmup", type=int,
                   default=d.warmup, help="untimed runs before timing")
    p.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: onnxruntime's)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_painting_flags(p)
    p.set_defaults(func=_run_bench)


def _run_bench(args) -> int:
    import json
    import tempfile

    from tqdm import tqdm

    from .bench import bench_models, export_presets, format_table, model_files, results_json
    from .config import PRESET_NAMES, BenchConfig

    config = config_from_args(BenchConfig, args)
    config.validate()
    painting = painting_options(args)
    if (args.fp16 or args.int8) and not args.preset:
        raise UserError("--fp16 and --int8 apply to --preset (a given .onnx file is timed in the precision it was "
                        "exported in; a bundled style's name times each shipped copy)")
    unknown = [x for x in args.preset or () if x not in PRESET_NAMES]
    if unknown:
        raise UserError(f"unknown preset {', '.join(unknown)} (choose from {', '.join(PRESET_NAMES)})")
    with tempfile.TemporaryDirectory(prefix="fastnst-bench-") as temp:
        models = model_files(args.models, every_shipped=not args.preset)
        if args.preset:
            need_torch("bench --preset")
            if not args.quiet:
                print(f"exporting random-weight {', '.join(args.preset)} models ...", file=sys.stderr)
            models += export_presets(args.preset, temp, fp16=args.fp16, int8=args.int8)
        with tqdm(total=len(models) * len(config.sizes), desc="bench", unit="size", disable=args.quiet,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            def step(done: int, total: int) -> None:  # total: a painting times each of its presets
                bar.total = total
                bar.update(1)

            results = bench_models(models, config, progress=step, painting=painting)
    if args.json:
        print(json.dumps(results_json(results, config), indent=2))
    else:
        print(f"{config.runs} timed runs after {config.warmup} warm-up, threads: {config.threads or 'default'}")
        print(format_table(results))
    return 0


SUBCOMMANDS = [_add_optimize, _add_layers, _add_train, _add_train_decoder, _add_export, _add_export_arbitrary,
               _add_info, _add_stylize, _add_styles, _add_video, _add_webcam, _add_demo, _add_bench]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, formatter_class=_Formatter,
        description="fastnst: real-time neural style transfer. Train fast style networks, export them to ONNX, "
                    "and run them on images, video and webcam.",
        epilog="Run 'fastnst COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"fastnst {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in SUBCOMMANDS:
        add(sub)
    parser.commands = tuple(sub.choices)  # the subcommand names, for tests and docs
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args) or 0
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        return status
    except UserError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (fastnst styles --json | head): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 141
    except Exception as e:  # a bug: say so in one line, traceback on request
        if os.environ.get("FASTNST_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(e).__name__}: {e} (set FASTNST_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
