#!/usr/bin/env python3
"""Make a fixed-size copy of a fastnst ONNX model for OpenCV 4.x's DNN module.

    python opencv4_static.py MODEL.onnx MODEL_640x480.onnx --size 640x480
    python opencv_dnn.py MODEL_640x480.onnx photo_640x480.jpg out.png

OpenCV 5 reads the exported model as it is (see opencv_dnn.py). OpenCV 4.x (checked with
4.10) does not: its ONNX importer infers every shape while loading and stops at the graph's
first node, the ``Shape`` of the input, whose height and width are free
("parseShape: dynamic 'zero' shapes are not supported"). This script fixes the input and
output to (1, 3, H, W) and lets onnxruntime fold the size arithmetic (Shape, Min, Max,
Concat, ...) into constants at its *basic* optimisation level, which keeps plain ONNX
operators only. The result runs at that one size (batch 1); make one file per frame size.

Needs ``onnx`` and ``onnxruntime`` (both installed with fastnst), not OpenCV.
"""

import argparse
import os
import sys
import tempfile


def make_static(src: str, dst: str, width: int, height: int) -> None:
    """Write `dst`: the model `src` with input and output fixed to (1, 3, height, width), sizes folded."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(src)
    for value in (model.graph.input[0], model.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        for dim, size in zip(dims, (1, 3, height, width)):
            dim.ClearField("dim_param")
            dim.dim_value = size
    with tempfile.TemporaryDirectory() as temp:
        fixed = os.path.join(temp, "fixed.onnx")
        onnx.save(model, fixed)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = os.path.join(temp, "folded.onnx")
        ort.InferenceSession(fixed, options, providers=["CPUExecutionProvider"])  # writes the folded graph
        folded = onnx.load(options.optimized_model_filepath)
    del folded.metadata_props[:]
    folded.metadata_props.extend(model.metadata_props)  # keep fastnst's metadata
    onnx.save(folded, dst)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Fix a fastnst ONNX model to one frame size for OpenCV 4.x.")
    parser.add_argument("model", help="ONNX file written by 'fastnst export'")
    parser.add_argument("output", help="fixed-size ONNX file to write")
    parser.add_argument("--size", required=True, metavar="WxH", help="frame width x height, e.g. 640x480")
    args = parser.parse_args(argv)
    w, sep, h = args.size.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        parser.error(f"--size must look like 640x480, got {args.size}")
    if os.path.abspath(args.output) == os.path.abspath(args.model):
        parser.error("the output would overwrite the input")
    make_static(args.model, args.output, int(w), int(h))
    print(f"wrote {args.output} (1x3x{h}x{w})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
