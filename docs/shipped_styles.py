"""Make docs/shipped_styles.jpg: the sample photo, then every shipped style, one row per preset and kind of
file (one-style files, then each multi-style file's styles; black where a row lacks a style).

    python docs/shipped_styles.py [--size 320] [-o docs/shipped_styles.jpg]

Each style runs through `fastnst.runtime.Stylizer` on the CPU at --size x --size, as a user would.
"""

import argparse
from pathlib import Path

import numpy as np

from fastnst.image import resize, sample_content, save_image
from fastnst.runtime import Stylizer
from fastnst.styles import PRESET_NAMES, list_styles


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=320, help="side of each tile, pixels")
    p.add_argument("-o", "--output", default=str(Path(__file__).with_name("shipped_styles.jpg")))
    args = p.parse_args()
    photo = resize(sample_content(), (args.size, args.size))
    styles = list_styles(".onnx")
    names = sorted({s.name for s in styles})
    rows = []
    kinds = sorted({(s.preset, None if s.blend is None else s.path.stem) for s in styles},
                   key=lambda k: (PRESET_NAMES.index(k[0]) if k[0] in PRESET_NAMES else 99, k[1] or ""))
    for preset, multi in kinds:
        row = [photo]
        for name in names:
            match = [s for s in styles if (s.name, s.preset) == (name, preset)
                     and (None if s.blend is None else s.path.stem) == multi]
            row.append(Stylizer(match[0], device="cpu").stylize(photo) if match else np.zeros_like(photo))
        rows.append(np.concatenate(row, axis=1))  # (size, size * (1 + styles), 3)
        print(f"{preset} {multi or 'one-style files'}: {', '.join(names)}")
    save_image(args.output, np.concatenate(rows, axis=0))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
