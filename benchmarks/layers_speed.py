"""How long the layer explorer's default pictures take (``fastnst layers``; issue 24 asks for under a minute each
on the 2-core CPU).

    python benchmarks/layers_speed.py --data-root ../shared/data

Times each picture at its defaults (LayersConfig()) on the real network of the data root
(vgg19-normalised, relu1_1..relu3_1): top patches over BSDS500 train (60 photos at 160 px; the first run
builds the activation index, the second reads it), the Figure 1 rows of the sample photo and pattern
(3 + 3 reconstructions at 128 px, 40 L-BFGS steps), and the Gram picture of the sample pattern; then each
again through the cache the web app uses. A private cache folder is used, so every first run is cold.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", required=True, help="folder with weights/ and content/bsds500/")
    parser.add_argument("--loss-net", help="another loss net spec (default: the data root's)")
    parser.add_argument("--layer", help="the patches' and Gram picture's layer (default: the deepest style layer)")
    args = parser.parse_args()
    os.environ["FASTNST_CACHE"] = tempfile.mkdtemp(prefix="fastnst-layers-bench-")

    import torch

    from fastnst import image as im
    from fastnst import layers
    from fastnst.config import LayersConfig

    cfg = LayersConfig(data_root=args.data_root, loss_net=args.loss_net, layer=args.layer)
    photo, pattern = im.sample_content(), im.sample_style()
    pictures = {
        "patches": ([], lambda: layers.patches_picture(cfg, progress=False)),
        "reconstruct": ([photo, pattern], lambda: layers.figure1(photo, pattern, cfg, progress=False)),
        "gram": ([pattern], lambda: layers.gram_picture(pattern, cfg, progress=False)),
    }
    print(f"loss net {layers.find_loss_net(cfg)}; {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs; defaults {cfg}")
    for name, (images, make) in pictures.items():
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            picture, _, hit = layers.cached(name, cfg, images, make)
            runs.append((time.perf_counter() - start, hit))
        again = ""
        if name == "patches":  # other units: the index is read, only the crops are made
            start = time.perf_counter()
            layers.patches_picture(LayersConfig(**{**vars(cfg), "seed": cfg.seed + 1}), progress=False)
            again = f"; other units from the index {time.perf_counter() - start:.1f} s"
        print(f"{name:12s} {picture.shape[1]}x{picture.shape[0]}: computed {runs[0][0]:.1f} s, "
              f"cached {runs[1][0]:.2f} s (hit {runs[1][1]}){again}", flush=True)


if __name__ == "__main__":
    main()
