#!/usr/bin/env python3
"""Stylize an image with a fastnst ONNX model using OpenCV's DNN module only (no onnxruntime).

    python opencv_dnn.py MODEL.onnx INPUT.jpg OUTPUT.png

Needs only ``opencv-python`` (tested with 5.0) and numpy; fastnst itself is not required.

The model's interface (``fastnst info MODEL.onnx``): input ``image`` and output
``stylized``, both float32 RGB NCHW ``(N, 3, H, W)`` with values in [0, 1]; N, H and W
are free. OpenCV reads images as BGR, so the channels are swapped on the way in
(``blobFromImage(..., swapRB=True)``) and back on the way out.
"""

import argparse
import os
import sys

import cv2
import numpy as np

INPUT, OUTPUT = "image", "stylized"  # the graph's input and output names


def load(model_path: str) -> "cv2.dnn.Net":
    """Read the ONNX file into an OpenCV DNN network (CPU by default).

    On an OpenCV built with CUDA: ``net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)``
    and ``net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)``.
    """
    return cv2.dnn.readNetFromONNX(model_path)


def forward(net: "cv2.dnn.Net", x: np.ndarray) -> np.ndarray:
    """Run the network: float32 RGB (N, 3, H, W) in [0, 1] -> float32 RGB (N, 3, H, W), nominally in [0, 1]."""
    net.setInput(np.ascontiguousarray(x, dtype=np.float32), INPUT)
    return net.forward(OUTPUT)


def stylize(net: "cv2.dnn.Net", bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR (H, W, 3) image, as cv2.imread returns it -> stylized uint8 BGR (H, W, 3)."""
    blob = cv2.dnn.blobFromImage(bgr, scalefactor=1.0 / 255.0, swapRB=True, crop=False)  # (1, 3, H, W) RGB
    rgb = forward(net, blob)[0].transpose(1, 2, 0)
    rgb = np.rint(np.clip(np.nan_to_num(rgb), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(rgb[..., ::-1])  # RGB -> BGR


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Stylize an image with a fastnst ONNX model through cv2.dnn.")
    parser.add_argument("model", help="ONNX file written by 'fastnst export'")
    parser.add_argument("input", help="image to stylize (any format cv2.imread reads)")
    parser.add_argument("output", help="where to write the result (format from the extension)")
    args = parser.parse_args(argv)
    if os.path.abspath(args.output) == os.path.abspath(args.input):
        parser.error("the output would overwrite the input")
    bgr = cv2.imread(args.input, cv2.IMREAD_COLOR)  # 8-bit BGR; grey and alpha images converted
    if bgr is None:
        parser.error(f"cannot read image {args.input}")
    out = stylize(load(args.model), bgr)
    root, ext = os.path.splitext(args.output)
    temp = f"{root}.tmp-{os.getpid()}{ext}"  # write atomically: temp file (same format), then rename
    if not cv2.imwrite(temp, out):
        parser.error(f"cannot write {args.output}")
    os.replace(temp, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
