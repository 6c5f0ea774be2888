#!/usr/bin/env node
// Stylize a PNG with a fastnst ONNX model in Node.js (onnxruntime-node, pngjs).
//
//   node stylize.js MODEL.onnx INPUT.png OUTPUT.png
//
// The model's interface (see `fastnst info MODEL.onnx`): input "image" and output
// "stylized", both float32 RGB NCHW (1, 3, H, W) with values in [0, 1]; any H and W.
// A PNG's alpha channel is dropped; the output is an opaque RGB PNG of the input's size.
"use strict";

const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");
const { PNG } = require("pngjs");

// RGBA bytes (H*W*4, row-major) -> float32 NCHW RGB in [0, 1].
function toNCHW(rgba, width, height) {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = rgba[4 * i] / 255;
    data[plane + i] = rgba[4 * i + 1] / 255;
    data[2 * plane + i] = rgba[4 * i + 2] / 255;
  }
  return new ort.Tensor("float32", data, [1, 3, height, width]);
}

// float32 NCHW RGB -> RGBA bytes, clipped to [0, 1], x255, rounded half to even
// (as fastnst.image.from_nchw does, so results match Python bit for bit).
function fromNCHW(data, width, height) {
  const plane = width * height;
  const rgba = Buffer.alloc(4 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = data[c * plane + i];
      v = Number.isNaN(v) ? 0 : Math.min(Math.max(v, 0), 1) * 255;
      let r = Math.round(v);
      if (r - v === 0.5 && r % 2 === 1) r -= 1; // Math.round rounds .5 up; make it half-to-even
      rgba[4 * i + c] = r;
    }
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

async function stylize(modelPath, inputPath, outputPath) {
  if (path.resolve(inputPath) === path.resolve(outputPath)) {
    throw new Error("the output would overwrite the input");
  }
  const png = PNG.sync.read(fs.readFileSync(inputPath)); // always decoded to 8-bit RGBA
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"] });
  const feeds = { image: toNCHW(png.data, png.width, png.height) };
  const { stylized } = await session.run(feeds);
  const out = new PNG({ width: png.width, height: png.height });
  out.data = fromNCHW(stylized.data, png.width, png.height);
  const temp = `${outputPath}.tmp-${process.pid}`; // write atomically: temp file, then rename
  fs.writeFileSync(temp, PNG.sync.write(out, { colorType: 2 }));
  fs.renameSync(temp, outputPath);
}

if (require.main === module) {
  const [model, input, output] = process.argv.slice(2);
  if (!model || !input || !output) {
    console.error("usage: node stylize.js MODEL.onnx INPUT.png OUTPUT.png");
    process.exit(2);
  }
  stylize(model, input, output).then(
    () => console.log(`wrote ${output}`),
    (err) => { console.error(`stylize.js: error: ${err.message}`); process.exit(1); },
  );
}

module.exports = { stylize, toNCHW, fromNCHW };
