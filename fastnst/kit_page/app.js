// fastnst in the browser: one exported style (ONNX) run live with onnxruntime-web, no server.
//
// This module owns the whole page: it reads the model's fastnst metadata and refuses other models,
// opens an onnxruntime-web session (WebGPU where the browser has an adapter, else WASM with SIMD,
// multi-threaded when the page is cross-origin isolated), and does the pre- and post-processing
// of fastnst.runtime.Stylizer (fastnst/image.py), written once here:
//   uint8 RGB -> float32 NCHW value / 255 -> network -> clip to [0, 1], x 255, round half to even;
//   max side: INTER_AREA down and INTER_CUBIC back up, as OpenCV computes them;
//   keep colours: stylized luminance Y with the original's I and Q (YIQ, BT.601 luma);
//   strength: round((1 - s) * original + s * stylized).
// Images here are ImageData-like objects {width, height, data: RGBA bytes}; alpha is ignored.
// A multi-style model (a second input, the weights of its styles, named by its "styles" metadata) gets
// a style, a second style and a mix slider; the weights go with every run (as Stylizer.set_style feeds them).
// An any-painting model (metadata "arbitrary", fastnst.export_arbitrary) takes any painting the visitor picks:
// its statistics graph (named by the metadata, beside the model) runs once per painting and stroke size, at
// the painting size of fastnst.painting.painting_image / fastnst.config.painting_side, and the frame graph
// runs each frame with the statistics and alpha (the strength slider, Stylizer.set_style_strength), its sides
// padded to the metadata's multiple as fastnst.painting.pad_frame pads them. The shipped pair's kit has a
// live graph too (settings.json "live": wct_fast where fastnst.styles.PREFERENCE runs it for live frames):
// webcam frames on those backends run it, fed the same painting's statistics.
// The page's settings (max-side choices and defaults, the painting rules) come from settings.json, which
// 'fastnst export --web' writes from fastnst.config (fastnst.webkit.page_settings).
// Page options in the URL: ?model=URL (default model.onnx), ?backend=auto|wasm|webgpu, ?threads=N.

// onnxruntime-web's ES module for the backend in use (see loadOrt): its CPU build or its WebGPU build.
let ort = null;

// What the page needs (fastnst.export.IO_SPEC); the model's own "io" metadata must agree.
const EXPECTED = {
  input: { dtype: "float32", layout: "NCHW", channels: "RGB", range: [0, 1] },
  output: { dtype: "float32", layout: "NCHW", channels: "RGB", range: [0, 1] },
};

// --------------------------------------------------------------------------- ONNX metadata

function varint(bytes, pos) {
  let value = 0, scale = 1, byte;
  do {
    if (pos >= bytes.length) throw new Error("truncated protobuf");
    byte = bytes[pos++];
    value += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte & 0x80);
  return [value, pos];
}

// The top-level fields of a protobuf message: {field, value} for varints, {field, start, end} for bytes.
function protoFields(bytes, start = 0, end = bytes.length) {
  const fields = [];
  let pos = start, key, length;
  while (pos < end) {
    [key, pos] = varint(bytes, pos);
    const field = Math.floor(key / 8), wire = key % 8;
    if (wire === 0) { let value; [value, pos] = varint(bytes, pos); fields.push({ field, value }); }
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) { [length, pos] = varint(bytes, pos); fields.push({ field, start: pos, end: pos + length }); pos += length; }
    else throw new Error(`bad protobuf wire type ${wire}`);
  }
  if (pos !== end || fields.length === 0) throw new Error("not a protobuf message");
  return fields;
}

// ModelProto.metadata_props (field 14, StringStringEntryProto {key = 1, value = 2}) as an object.
// Throws when the bytes are not an ONNX model (no ir_version or no graph).
export function onnxMetadata(bytes) {
  const text = new TextDecoder();
  let fields;
  try { fields = protoFields(bytes); } catch { throw new Error("it is not an ONNX model"); }
  if (!fields.some((f) => f.field === 1 && "value" in f) || !fields.some((f) => f.field === 7 && "start" in f)) {
    throw new Error("it is not an ONNX model");
  }
  const meta = {};
  for (const f of fields.filter((f) => f.field === 14 && "start" in f)) {
    const entry = {};
    for (const g of protoFields(bytes, f.start, f.end)) {
      if ("start" in g) entry[g.field] = text.decode(bytes.subarray(g.start, g.end));
    }
    if (entry[1] !== undefined) meta[entry[1]] = entry[2] ?? "";
  }
  return meta;
}

// The model's I/O spec from its metadata; an Error with a message for the user when it does not fit.
export function checkStyle(meta, label) {
  if (!("io" in meta)) {
    throw new Error(`${label} is not a fastnst style: it has no fastnst metadata (the "io" entry that ` +
      "'fastnst export' writes). Export the model with 'fastnst export MODEL.pth -o MODEL.onnx'.");
  }
  let io;
  try { io = JSON.parse(meta.io); } catch { throw new Error(`${label}: its fastnst "io" metadata is not JSON`); }
  const problems = [];
  for (const side of ["input", "output"]) {
    const got = io?.[side] ?? {};
    if (typeof got.name !== "string") problems.push(`${side} has no name`);
    for (const [key, want] of Object.entries(EXPECTED[side])) {
      if (JSON.stringify(got[key]) !== JSON.stringify(want)) {
        problems.push(`${side} ${key} is ${JSON.stringify(got[key])}, the page needs ${JSON.stringify(want)}`);
      }
    }
    if (!Array.isArray(got.shape) || got.shape.length !== 4 || got.shape[1] !== 3) {
      problems.push(`${side} shape is ${JSON.stringify(got.shape)}, the page needs [batch, 3, height, width]`);
    }
  }
  if ("style" in io) {  // a multi-style model: one float32 weight per style its metadata names
    const names = styleNames(meta);
    const spec = io.style ?? {};
    if (typeof spec.name !== "string" || spec.dtype !== "float32" || !Array.isArray(spec.shape) ||
        spec.shape.length !== 1 || spec.shape[0] !== names.length || names.length < 2) {
      problems.push(`its style weights input ${JSON.stringify(spec)} does not fit its ${names.length} styles`);
    }
  }
  if (problems.length) throw new Error(`${label} does not match this page: ${problems.join("; ")}`);
  return io;
}

// A multi-style model's style names (its "styles" metadata, a JSON list), or [] for a one-style model.
function styleNames(meta) {
  if (!("styles" in meta)) return [];
  try {
    const names = JSON.parse(meta.styles);
    return Array.isArray(names) ? names.map(String) : [];
  } catch { return []; }
}

// The style weights (fastnst.styles.blend_weights): `first` weighted 1 - mix, `second` (or none) mix.
export function blendWeights(names, first, second = "", mix = 0) {
  const weights = new Float32Array(names.length);
  const m = second ? Math.min(1, Math.max(0, mix)) : 0;
  weights[names.indexOf(first)] += 1 - m;
  if (second) weights[names.indexOf(second)] += m;
  return weights;
}

// --------------------------------------------------------------------------- pixels (fastnst/image.py)

const f32 = Math.fround;

// np.rint: round half to even.
function rint(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function newImage(width, height) {
  return { width, height, data: new Uint8ClampedArray(width * height * 4).fill(255) };
}

// to_nchw: uint8 RGB -> float32 (1, 3, H, W) in [0, 1] (value / 255).
export function toNCHW(image) {
  const n = image.width * image.height, d = image.data, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    out[i] = d[4 * i] / 255;
    out[n + i] = d[4 * i + 1] / 255;
    out[2 * n + i] = d[4 * i + 2] / 255;
  }
  return out;
}

// from_nchw: float (1, 3, H, W) -> uint8 RGB: clip to [0, 1] (NaN -> 0), x 255 in float32, round half to even.
export function fromNCHW(values, width, height) {
  const n = width * height, out = newImage(width, height);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = values[c * n + i];
      out.data[4 * i + c] = v > 0 ? rint(f32((v < 1 ? v : 1) * 255)) : 0;
    }
  }
  return out;
}

// blend: round((1 - alpha) * a + alpha * b), in float32 as numpy computes it.
export function blend(a, b, alpha) {
  const out = newImage(a.width, a.height), wa = f32(1 - alpha), wb = f32(alpha);
  for (let i = 0; i < a.data.length; i += 4) {
    for (let c = 0; c < 3; c++) out.data[i + c] = rint(f32(f32(a.data[i + c] * wa) + f32(b.data[i + c] * wb)));
  }
  return out;
}

// RGB -> YIQ (NTSC / BT.601 luma) and back: fastnst.image._RGB_TO_YIQ and its inverse.
const RGB_TO_YIQ = [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]];
const YIQ_TO_RGB = invert3(RGB_TO_YIQ);

function invert3(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [[A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
          [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
          [C / det, -(a * h - b * g) / det, (a * e - b * d) / det]];
}

// transfer_luminance: stylized Y, original I and Q, back to RGB clipped to [0, 1], x 255, rounded.
export function transferLuminance(stylized, original) {
  const out = newImage(original.width, original.height), s = stylized.data, o = original.data;
  const [ry, gy, by] = RGB_TO_YIQ[0], [ri, gi, bi] = RGB_TO_YIQ[1], [rq, gq, bq] = RGB_TO_YIQ[2];
  for (let p = 0; p < o.length; p += 4) {
    const r = o[p] / 255, g = o[p + 1] / 255, b = o[p + 2] / 255;
    const y = (ry * s[p] + gy * s[p + 1] + by * s[p + 2]) / 255;
    const iq = [ri * r + gi * g + bi * b, rq * r + gq * g + bq * b];
    for (let c = 0; c < 3; c++) {
      const v = YIQ_TO_RGB[c][0] * y + YIQ_TO_RGB[c][1] * iq[0] + YIQ_TO_RGB[c][2] * iq[1];
      out.data[p + c] = v > 0 ? rint(f32((v < 1 ? v : 1) * 255)) : 0;
    }
  }
  return out;
}

// --------------------------------------------------------------------------- resizing (OpenCV's, for uint8)

// resize_long_side's target: the long side becomes `side`, the short one rounded half to even (Python's round).
export function longSideSize(width, height, side) {
  const scale = side / Math.max(width, height);
  return [Math.max(1, rint(width * scale)), Math.max(1, rint(height * scale))];
}

// fastnst.image.resize: INTER_AREA when neither side grows, INTER_CUBIC otherwise; the same object when the size fits.
export function resize(image, width, height) {
  if (image.width === width && image.height === height) return image;
  return width <= image.width && height <= image.height ? resizeArea(image, width, height)
    : resizeCubic(image, width, height);
}

// A separable resampling: weights[dst] = [[src index, weight], ...] per axis, then `finish` per value.
function separable(image, width, height, xs, ys, finish) {
  const out = newImage(width, height), src = image.data, row = new Float64Array(width * 3);
  const rowStride = image.width * 4;
  for (let dy = 0; dy < height; dy++) {
    const acc = new Float64Array(width * 3);
    for (const [sy, wy] of ys[dy]) {
      row.fill(0);
      for (let dx = 0; dx < width; dx++) {
        for (const [sx, wx] of xs[dx]) {
          const p = sy * rowStride + sx * 4;
          row[3 * dx] += src[p] * wx; row[3 * dx + 1] += src[p + 1] * wx; row[3 * dx + 2] += src[p + 2] * wx;
        }
      }
      for (let k = 0; k < acc.length; k++) acc[k] += row[k] * wy;
    }
    for (let dx = 0; dx < width; dx++) {
      for (let c = 0; c < 3; c++) out.data[(dy * width + dx) * 4 + c] = finish(acc[3 * dx + c]);
    }
  }
  return out;
}

// INTER_AREA for shrinking: each output pixel is the area-weighted mean of the source pixels it covers.
// `whole`: OpenCV's fast path where both axes shrink by whole factors (weights 1, the sum divided at the end).
function areaWeights(srcSize, dstSize, whole = true) {
  const scale = 1 / (dstSize / srcSize), table = [];
  const integer = Math.round(scale);
  if (whole && Math.abs(scale - integer) < Number.EPSILON) {  // whole blocks of `integer` pixels
    for (let d = 0; d < dstSize; d++) table.push(Array.from({ length: integer }, (_, k) => [d * integer + k, 1]));
    return { table, integer };
  }
  for (let d = 0; d < dstSize; d++) {
    const f1 = d * scale, f2 = f1 + scale, cell = Math.min(scale, srcSize - f1), entries = [];
    let s2 = Math.min(Math.floor(f2), srcSize - 1);
    const s1 = Math.min(Math.ceil(f1), s2);
    if (s1 - f1 > 1e-3) entries.push([s1 - 1, f32((s1 - f1) / cell)]);
    for (let s = s1; s < s2; s++) entries.push([s, f32(1 / cell)]);
    if (f2 - s2 > 1e-3) entries.push([s2, f32(Math.min(Math.min(f2 - s2, 1), cell) / cell)]);
    table.push(entries);
  }
  return { table, integer: 0 };
}

function resizeArea(image, width, height) {
  let x = areaWeights(image.width, width), y = areaWeights(image.height, height);
  if (!x.integer !== !y.integer) {  // one axis by a whole factor, the other not: OpenCV's general path for both
    x = areaWeights(image.width, width, false);
    y = areaWeights(image.height, height, false);
  }
  if (x.integer && y.integer) {  // integer sums: (sum + 2) >> 2 for 2x2 blocks, else round(sum * (1 / area))
    const area = x.integer * y.integer, inv = f32(1 / area);
    const finish = area === 4 ? (v) => (v + 2) >> 2 : (v) => rint(f32(v * inv));
    return separable(image, width, height, x.table, y.table, finish);
  }
  return separable(image, width, height, x.table, y.table, (v) => Math.min(255, Math.max(0, rint(v))));
}

// INTER_CUBIC (A = -0.75) in OpenCV's fixed point for 8-bit images: 11-bit weights, borders replicated.
function cubicWeights(srcSize, dstSize) {
  const scale = 1 / (dstSize / srcSize), A = -0.75, table = [];
  for (let d = 0; d < dstSize; d++) {
    let fx = f32((d + 0.5) * scale - 0.5);
    const s = Math.floor(fx);
    fx = f32(fx - s);
    const c0 = f32(f32(f32(f32(f32(A * f32(fx + 1)) - 5 * A) * f32(fx + 1)) + 8 * A) * f32(fx + 1)) - 4 * A;
    const c1 = f32(f32(f32(f32(f32(A + 2) * fx) - (A + 3)) * fx) * fx) + 1;
    const gx = f32(1 - fx);
    const c2 = f32(f32(f32(f32(f32(A + 2) * gx) - (A + 3)) * gx) * gx) + 1;
    const c3 = f32(f32(f32(1 - f32(c0)) - f32(c1)) - f32(c2));
    table.push([f32(c0), f32(c1), f32(c2), c3].map((c, k) => [Math.min(srcSize - 1, Math.max(0, s - 1 + k)),
      rint(f32(c * 2048))]));
  }
  return table;
}

function resizeCubic(image, width, height) {
  const finish = (v) => Math.min(255, Math.max(0, Math.floor((v + 2097152) / 4194304)));  // (v + 2^21) >> 22
  return separable(image, width, height, cubicWeights(image.width, width), cubicWeights(image.height, height), finish);
}

// --------------------------------------------------------------------------- any painting (fastnst/painting.py)

// The "arbitrary" metadata of an any-painting frame graph (fastnst.export_arbitrary.arbitrary_io), checked:
// {painting_file, multiple (of the frame's and the painting's sides), alpha, stats: [names]}; null for a trained
// style. An Error with a message for the user where it does not fit.
export function arbitraryInfo(meta, label) {
  if (!("arbitrary" in meta)) return null;
  let info;
  try { info = JSON.parse(meta.arbitrary); } catch { throw new Error(`${label}: its "arbitrary" metadata is not JSON`); }
  if (info?.role === "painting") {
    throw new Error(`${label} is the painting-statistics graph of an any-painting style: open its frame graph`);
  }
  const frame = info?.frame ?? {}, painting = info?.painting ?? {};
  const inputs = Object.keys(frame.inputs ?? {}), stats = Object.keys(painting.outputs ?? {});
  const multiple = frame.input?.multiple_of, image = frame.input?.name;
  const alpha = inputs.find((n) => n !== image && !stats.includes(n));
  const problems = [];
  if (info?.role !== "frame") problems.push(`role is ${JSON.stringify(info?.role)}, the page needs "frame"`);
  if (typeof info?.painting_file !== "string" || !/^[^/\\]+\.onnx$/.test(info.painting_file)) {
    problems.push(`painting_file is ${JSON.stringify(info?.painting_file)}, the page needs a file name`);
  }
  if (!Number.isInteger(multiple) || multiple < 1 || painting.input?.multiple_of !== multiple) {
    problems.push(`multiple_of is ${JSON.stringify(multiple)} (frame) and ${JSON.stringify(painting.input?.multiple_of)} ` +
      "(painting), the page needs one positive whole number");
  }
  if (!alpha || JSON.stringify(frame.inputs[alpha].shape) !== "[1]" || !stats.length ||
      !stats.every((n) => inputs.includes(n)) || inputs.length !== stats.length + 2) {
    problems.push(`its frame inputs ${JSON.stringify(inputs)} are not the image, alpha and the painting's ` +
      `statistics ${JSON.stringify(stats)}`);
  }
  if (typeof painting.input?.name !== "string") problems.push("its painting input has no name");
  if (problems.length) throw new Error(`${label} does not match this page: ${problems.join("; ")}`);
  return { paintingFile: info.painting_file, paintingInput: painting.input.name, multiple, alpha, stats };
}

// fastnst.config.painting_side: a painting's long side at stroke size `stroke` (1 = full size: its own long side,
// within [min_side, max_size]); `rules`: settings.json's "painting".
export function paintingSide(stroke, own, rules) {
  return rules.stroke_sides[stroke - 1] ?? Math.min(Math.max(own, rules.min_side), rules.max_size);
}

// fastnst.painting.painting_image: the painting read at most at max(size, read_side) (load_painting), checked,
// its long side made `size`, both sides cropped (centred) to multiples of `multiple`. An Error for the user
// where a side is under min_side, before or at `size`.
export function paintingImage(image, size, multiple, rules, name) {
  const read = Math.max(size, rules.read_side);
  if (Math.max(image.width, image.height) > read) image = resize(image, ...longSideSize(image.width, image.height, read));
  const { width: w, height: h } = image, minSide = rules.min_side;
  if (Math.min(w, h) < minSide) {
    throw new Error(`'${name}' is only ${w}x${h} pixels: give a painting at least ${minSide} px on each side`);
  }
  const short = rint(Math.min(w, h) * size / Math.max(w, h));
  if (short < minSide) {
    throw new Error(`'${name}' is ${w}x${h} pixels: at a long side of ${size} px its short side is ${short} px, ` +
      `under ${minSide}; give a less elongated painting, or a smaller stroke size`);
  }
  return crop(resize(image, ...longSideSize(w, h, size)), multiple);
}

// The centred crop of `image` to sides that are multiples of `multiple` (painting_image's).
function crop(image, multiple) {
  const { width: w, height: h } = image, cw = w - (w % multiple), ch = h - (h % multiple);
  if (cw === w && ch === h) return image;
  const top = Math.floor((h % multiple) / 2), left = Math.floor((w % multiple) / 2), out = newImage(cw, ch);
  for (let y = 0; y < ch; y++) out.data.set(image.data.subarray(((top + y) * w + left) * 4, ((top + y) * w + left + cw) * 4), y * cw * 4);
  return out;
}

// fastnst.painting.pad_frame: the last rows and columns repeated up to sides that are multiples of `multiple`
// and at least `minSide`.
export function padFrame(image, multiple, minSide) {
  const { width: w, height: h } = image;
  const pw = Math.max(minSide, Math.ceil(w / multiple) * multiple), ph = Math.max(minSide, Math.ceil(h / multiple) * multiple);
  if (pw === w && ph === h) return image;
  const out = newImage(pw, ph);
  for (let y = 0; y < ph; y++) {
    const row = Math.min(y, h - 1) * w * 4;
    out.data.set(image.data.subarray(row, row + w * 4), y * pw * 4);
    for (let x = w; x < pw; x++) out.data.set(image.data.subarray(row + (w - 1) * 4, row + w * 4), (y * pw + x) * 4);
  }
  return out;
}

// The top-left width x height of `image` (the padding cut off again).
function topLeft(image, width, height) {
  if (image.width === width && image.height === height) return image;
  const out = newImage(width, height);
  for (let y = 0; y < height; y++) out.data.set(image.data.subarray(y * image.width * 4, (y * image.width + width) * 4), y * width * 4);
  return out;
}

// A painting's statistics (the statistics graph on `painting`, a paintingImage): {name: ort.Tensor}, the frame
// graph's inputs. Copied out of the session's outputs, so they stay valid for every frame that follows.
export async function paintingStats(style, painting) {
  const { width, height } = painting, arb = style.arbitrary;
  const input = new ort.Tensor("float32", toNCHW(painting), [1, 3, height, width]);
  const results = await style.paintingSession.run({ [arb.paintingInput]: input });
  const stats = {};
  for (const name of arb.stats) {
    const out = results[name];
    const data = Float32Array.from(out.data ?? (await out.getData()));
    if (!data.every(Number.isFinite)) throw new Error(`${arb.paintingFile}: the painting's statistics are not finite`);
    stats[name] = new ort.Tensor("float32", data, out.dims);
    out.dispose?.();
  }
  input.dispose?.();
  return stats;
}

// --------------------------------------------------------------------------- the Stylizer

// An onnxruntime-web session for a fastnst style: {session, io, meta, label, styles, weights, arbitrary}.
// `bytes`: the .onnx file. A multi-style model's `styles` are its style names and `weights` the blend it runs
// (its first style until the page sets another); a one-style model has styles [] and weights null. An
// any-painting model (`arbitrary`: arbitraryInfo) also opens its statistics graph, fetched from `url`'s folder
// (a model picked from the disk has none: an Error says so); its `alpha` is 1 and `painting` null until the
// page sets them.
export async function loadStyle(bytes, label, executionProvider, url = null) {
  const meta = onnxMetadata(bytes);
  const io = checkStyle(meta, label);
  const arbitrary = arbitraryInfo(meta, label);
  let paintingBytes = null;
  if (arbitrary) {
    if (!url) {
      throw new Error(`${label} runs any painting with ${arbitrary.paintingFile} beside it: put both beside the page ` +
        `and open ?model=${label}`);
    }
    const where = new URL(arbitrary.paintingFile, new URL(url, location.href)).href;
    const response = await fetch(where).catch((e) => { throw new Error(`cannot load ${where}: ${e.message}`); });
    if (!response.ok) throw new Error(`cannot load ${arbitrary.paintingFile} beside ${label}: HTTP ${response.status}`);
    paintingBytes = new Uint8Array(await response.arrayBuffer());
  }
  const options = { executionProviders: [executionProvider] };
  const session = await ort.InferenceSession.create(bytes, options);
  const inputs = io.style ? [io.input.name, io.style.name] : arbitrary ? [io.input.name, arbitrary.alpha,
    ...arbitrary.stats] : [io.input.name];
  if (!inputs.every((name) => session.inputNames.includes(name)) || !session.outputNames.includes(io.output.name)) {
    throw new Error(`${label} does not match its metadata: the graph has inputs ${session.inputNames} and ` +
      `outputs ${session.outputNames}, the metadata says ${inputs.join(", ")} and ${io.output.name}`);
  }
  const styles = io.style ? styleNames(meta) : [];
  const style = { session, io, meta, label, styles, weights: styles.length ? blendWeights(styles, styles[0]) : null,
    arbitrary, alpha: 1, painting: null, paintingSession: null };
  if (arbitrary) {
    style.paintingSession = await ort.InferenceSession.create(paintingBytes, options);
    const missing = arbitrary.stats.filter((name) => !style.paintingSession.outputNames.includes(name));
    if (!style.paintingSession.inputNames.includes(arbitrary.paintingInput) || missing.length) {
      throw new Error(`${arbitrary.paintingFile} does not match ${label}'s metadata: it has inputs ` +
        `${style.paintingSession.inputNames} and outputs ${style.paintingSession.outputNames}`);
    }
  }
  return style;
}

// The network's uint8 output for `image` (same size). An any-painting model runs on the image padded
// (padFrame, to its metadata's multiple and settings' min side) with its painting's statistics and alpha;
// `live`: a webcam frame, which runs the style's live graph where it has one (loadLive), fed the statistics
// of the same painting that it takes.
export async function network(style, image, minSide = 1, live = false) {
  const arb = style.arbitrary;
  if (arb && !style.painting) throw new Error("pick a painting first");
  const graph = live && style.live ? style.live : style;
  const padded = arb ? padFrame(image, arb.multiple, minSide) : image;
  const { width, height } = padded;
  const input = new ort.Tensor("float32", toNCHW(padded), [1, 3, height, width]);
  const feeds = { [graph.io.input.name]: input };
  if (style.weights) feeds[style.io.style.name] = new ort.Tensor("float32", style.weights, [style.weights.length]);
  if (arb) {
    for (const name of graph.arbitrary.stats) feeds[name] = style.painting.stats[name];
    feeds[graph.arbitrary.alpha] = new ort.Tensor("float32", [style.alpha], [1]);
  }
  const results = await graph.session.run(feeds);
  const output = results[graph.io.output.name];
  const [n, c, h, w] = output.dims;
  if (n !== 1 || c !== 3 || h !== height || w !== width) {
    throw new Error(`the network returned shape [${output.dims}] for an image of ${width}x${height}`);
  }
  const data = output.data ?? (await output.getData());
  input.dispose?.();
  output.dispose?.();
  return topLeft(fromNCHW(data, width, height), image.width, image.height);
}

// The network's input: the image itself, or a copy whose long side is maxSide.
export function networkInput(image, maxSide) {
  if (!maxSide || Math.max(image.width, image.height) <= maxSide) return image;
  return resize(image, ...longSideSize(image.width, image.height, maxSide));
}

// Stylizer._finish: back to the original's size, keep colours, then strength.
export function finish(original, styled, { strength = 1, keepColours = false } = {}) {
  let out = resize(styled, original.width, original.height);
  if (keepColours) out = transferLuminance(out, original);
  if (strength < 1) out = blend(original, out, strength);
  return out;
}

// Stylizer.stylize for one image: {strength, keepColours, maxSide} as the Python keyword arguments
// (`minSide`: an any-painting model's smallest frame side, settings.json's painting.min_side; `live`: a
// webcam frame, see network).
export async function stylize(style, image, options = {}) {
  if (options.strength === 0) return blend(image, image, 0);  // the input itself, as RGB
  return finish(image, await network(style, networkInput(image, options.maxSide), options.minSide, options.live),
    options);
}

// The kit's live graph (settings.json's "live": fastnst.webkit.live_graph, the preset fastnst.styles.PREFERENCE
// runs for live frames on this backend) beside an any-painting `style`: {session, io, arbitrary, label}. Its
// painting statistics must be ones the style's statistics graph computes, its sides the same multiple.
export async function loadLive(style, url, executionProvider) {
  const response = await fetch(url).catch((e) => { throw new Error(`cannot load ${url}: ${e.message}`); });
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const meta = onnxMetadata(bytes);
  const io = checkStyle(meta, url), arbitrary = arbitraryInfo(meta, url);
  const missing = (arbitrary?.stats ?? [null]).filter((name) => !style.arbitrary.stats.includes(name));
  if (!arbitrary || missing.length || arbitrary.multiple !== style.arbitrary.multiple) {
    throw new Error(`${url} is not a frame graph that takes ${style.label}'s painting statistics`);
  }
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [executionProvider] });
  return { session, io, arbitrary, label: url };
}

// --------------------------------------------------------------------------- backends

const params = new URLSearchParams(location.search);

const ORT_MODULES = { wasm: "./ort/ort.wasm.min.mjs", webgpu: "./ort/ort.webgpu.min.mjs" };

// Import onnxruntime-web's module for `backend` (threads and file locations set before its first session).
async function loadOrt(backend, wasm) {
  ort = await import(ORT_MODULES[backend]);
  ort.env.wasm.numThreads = wasm.threads;
  ort.env.wasm.wasmPaths = new URL("ort/", import.meta.url).href;
  ort.env.logLevel = "error";
}

// "webgpu" where the browser has an adapter (unless ?backend=wasm), else "wasm".
async function pickBackend(wanted) {
  if (wanted === "wasm") return "wasm";
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter().catch(() => null) : null;
  if (adapter) return "webgpu";
  if (wanted === "webgpu") throw new Error("?backend=webgpu: this browser has no WebGPU adapter");
  return "wasm";
}

function setUpWasm() {
  // Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages (COOP/COEP headers).
  const isolated = self.crossOriginIsolated === true;
  const asked = parseInt(params.get("threads") ?? "", 10);
  const threads = isolated ? (asked > 0 ? asked : Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  return { isolated, threads };
}

// --------------------------------------------------------------------------- the page

const $ = (id) => document.getElementById(id);
const state = {
  style: null, backend: null, wasm: null, source: null, image: null, cache: null,
  busy: false, dirty: false, stream: null, times: [],
  settings: null, maxSideChosen: false,  // settings.json; whether the visitor picked a max side (else the default)
  painting: null, paintings: 0,  // the picked painting {image, name} as decoded; how many were applied
  paintingJob: Promise.resolve(), paintingWanted: 0,  // statistics runs one at a time; the newest request wins
};
// For tests and benchmarks: what the page runs and shows.
const api = { ready: false, busy: false, error: null, backend: null, threads: null, frames: 0, fps: 0, style: null,
  cameraGraph: null };
window.fastnst = api;  // also api.weights: a multi-style model's style weights now (an array), else null;
// api.painting: an any-painting model's painting now {name, width, height, size, stroke, ms}, else null;
// api.cameraGraph: the file that ran the last webcam frame (the live graph where the kit has one)

function showError(error) {
  const message = error instanceof Error ? error.message : String(error);
  api.error = message;
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "error";
}

function clearError() {
  api.error = null;
  $("error").hidden = true;
}

// The Stylizer options of the controls. For an any-painting model the strength slider is alpha (set on the
// style by useStrength), and the image itself is never blended back in (strength 1).
function options() {
  return {
    strength: state.style?.arbitrary ? 1 : parseFloat($("strength").value),
    keepColours: $("keep-colours").checked,
    maxSide: parseInt($("max-side").value, 10) || null,
    minSide: state.settings.painting.min_side,
  };
}

function useStrength() {
  $("strength-value").textContent = parseFloat($("strength").value).toFixed(2);
  if (state.style?.arbitrary) state.style.alpha = parseFloat($("strength").value);
}

// "Max side": the choices of settings.json (fastnst.config.STROKE_SIDES), starting at the image default.
function setUpMaxSide(settings) {
  const label = (side) => (side ? String(side) : "full size");
  $("max-side").replaceChildren(...settings.max_sides.map((side) => new Option(label(side), side ? String(side) : "")));
  $("max-side").value = String(settings.image_max_side ?? "");
}

// The max side's default for `source` ("image" or "camera"), unless the visitor picked one.
function defaultMaxSide(source) {
  if (state.maxSideChosen) return;
  const side = source === "camera" ? state.settings.camera_max_side : state.settings.image_max_side;
  $("max-side").value = side ? String(side) : "";
}

function backendLabel() {
  if (state.backend === "webgpu") return "WebGPU";
  const { threads, isolated } = state.wasm;
  return `WASM (SIMD, ${threads} thread${threads === 1 ? "" : "s"}${isolated ? "" : ", not cross-origin isolated"})`;
}

function updateStatus(extra = "") {
  const fps = api.fps ? ` · ${api.fps.toFixed(1)} frames/s` : "";
  $("status").textContent = `${backendLabel()}${fps}${extra ? " · " + extra : ""}`;
}

function show(image) {
  const canvas = $("output");
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  const pixels = new ImageData(image.data, image.width, image.height);
  canvas.getContext("2d", { willReadFrequently: true }).putImageData(pixels, 0, 0);
}

// One more frame shown: frames/s over the last 10.
function tick() {
  const now = performance.now();
  state.times.push(now);
  if (state.times.length > 10) state.times.shift();
  api.frames += 1;
  const n = state.times.length;
  api.fps = n > 1 ? (1000 * (n - 1)) / (state.times[n - 1] - state.times[0]) : 0;
}

// Pixels of an image, bitmap or video frame, drawn into a canvas of its size.
const grabCanvas = document.createElement("canvas");
function grab(source, width, height) {
  grabCanvas.width = width;
  grabCanvas.height = height;
  const context = grabCanvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#fff";  // transparent pixels become white, as fastnst.image.load_image makes them
  context.fillRect(0, 0, width, height);
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

// Image mode: the network runs once per image and max side; strength and keep colours only redo _finish.
async function renderImage() {
  if (state.busy) { state.dirty = true; return; }
  state.busy = api.busy = true;
  try {
    do {
      state.dirty = false;
      const image = state.image, opts = options();
      const t0 = performance.now();
      let out;
      if (opts.strength === 0) out = await stylize(state.style, image, opts);
      else {
        const style = state.style;  // a new max side, blend, painting or alpha runs the network
        const key = `${opts.maxSide} ${style.weights ?? ""} ${style.arbitrary ? `${style.painting?.key} ${style.alpha}` : ""}`;
        if (!state.cache || state.cache.image !== image || state.cache.key !== key || state.cache.style !== state.style) {
          const styled = await network(state.style, networkInput(image, opts.maxSide), opts.minSide);
          state.cache = { image, key, style: state.style, styled };
        }
        out = finish(image, state.cache.styled, opts);
      }
      if (state.source !== "image" || state.image !== image) continue;
      show(out);
      api.frames += 1;
      updateStatus(`${image.width}x${image.height} in ${(performance.now() - t0).toFixed(0)} ms`);
    } while (state.dirty);
  } catch (e) {
    showError(e);
  } finally {
    state.busy = api.busy = false;
  }
}

async function openImage(file) {
  stopCamera();
  clearError();
  try {
    const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none",
      imageOrientation: "from-image" });
    state.image = grab(bitmap, bitmap.width, bitmap.height);
    bitmap.close();
  } catch {
    showError(`cannot read image '${file.name}': not an image this browser decodes`);
    return;
  }
  state.source = "image";
  defaultMaxSide("image");
  await renderImage();
}

async function startCamera() {
  clearError();
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch (e) {
    showError(`no webcam: ${e.message || e.name}`);
    return;
  }
  const video = $("camera");
  video.srcObject = state.stream;
  await video.play();
  state.source = "camera";
  defaultMaxSide("camera");
  state.times = [];
  $("camera-start").disabled = true;
  $("camera-stop").disabled = false;
  cameraLoop();
}

function stopCamera() {
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  if (state.source === "camera") state.source = null;
  $("camera-start").disabled = false;
  $("camera-stop").disabled = true;
}

// Camera mode: stylize the newest frame, show it, repeat; the controls apply from the next frame.
async function cameraLoop() {
  const video = $("camera");
  while (state.source === "camera") {
    if (video.readyState >= 2 && video.videoWidth > 0) {
      try {
        const out = await stylize(state.style, grab(video, video.videoWidth, video.videoHeight),
          { ...options(), live: true });
        api.cameraGraph = (state.style.live ?? state.style).label;
        if (state.source !== "camera") break;
        show(out);
        tick();
        const live = state.style.live ? ` · one level (${state.style.live.label}), for speed` : "";
        updateStatus(`${out.width}x${out.height}${live}`);
      } catch (e) {
        showError(e);
        stopCamera();
        break;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

const styleLabel = (name) => name.replace(/_/g, " ");

// A multi-style model's controls: its styles, a second style ("none" first) and the mix slider (the second
// style's weight, off until one is picked); hidden for a one-style model.
function setUpBlend(style) {
  $("blend").hidden = style.styles.length === 0;
  $("style-select").replaceChildren(...style.styles.map((name) => new Option(styleLabel(name), name)));
  $("mix-select").value = "";
  updateBlend();
}

// The weights the next run feeds, from the controls; the second list offers every style but the first.
function updateBlend() {
  const style = state.style, first = $("style-select").value, second = $("mix-select");
  const keep = second.value !== first ? second.value : "";
  const others = (style?.styles ?? []).filter((name) => name !== first);
  second.replaceChildren(new Option("none", ""), ...others.map((name) => new Option(styleLabel(name), name)));
  second.value = keep;
  $("mix").disabled = !keep;
  $("mix-value").textContent = parseFloat($("mix").value).toFixed(2);
  if (!style?.styles.length) { api.weights = null; return; }
  style.weights = blendWeights(style.styles, first, keep, parseFloat($("mix").value));
  api.weights = Array.from(style.weights);
}

async function useStyle(bytes, label, url = null) {
  const style = await loadStyle(bytes, label, state.backend, url);
  state.style = style;
  state.cache = null;
  setUpBlend(style);
  setUpPainting(style);
  api.style = { label, style: style.meta.style || null, preset: style.meta.preset || null };
  $("style-name").textContent = style.arbitrary ? "any painting"
    : [style.meta.style || label, style.meta.preset].filter(Boolean).join(" · ");
  if (style.arbitrary && state.painting) {  // the painting picked before (another any-painting model) stays
    try { await applyPainting(); } catch (e) { showError(e); }
  }
  updateStatus(style.arbitrary && !style.painting ? "ready: pick a painting, then an image or the webcam"
    : "ready: pick an image or the webcam");
}

// --------------------------------------------------------------------------- the painting (any-painting models)

// The painting controls: shown for an any-painting model (its strength slider becomes the style strength).
function setUpPainting(style) {
  const arb = Boolean(style.arbitrary);
  $("painting").hidden = !arb;
  $("strength-label").textContent = arb ? "Style strength" : "Strength";
  $("strength").title = arb ? "how far the photo's features move to the painting's (alpha): 0 the photo, 1 the painting"
    : "mix of the photo (0) and the stylized picture (1)";
  api.painting = null;
  useStrength();
}

// The painting's size at the stroke size now (fastnst.config.painting_side).
function paintingSize() {
  const stroke = parseInt($("stroke").value, 10);
  return paintingSide(stroke, Math.max(state.painting.image.width, state.painting.image.height), state.settings.painting);
}

function updateStrokeLabel() {
  const stroke = parseInt($("stroke").value, 10);
  $("stroke-value").textContent = state.painting ? `${stroke} · painting at ${paintingSize()} px` : String(stroke);
}

// Decode a picked or example painting (a Blob) and use it; a file the browser cannot decode is a message,
// and the painting before stays.
async function openPainting(blob, name) {
  clearError();
  let image;
  try {
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none",
      imageOrientation: "from-image" });
    image = grab(bitmap, bitmap.width, bitmap.height);
    bitmap.close();
  } catch {
    showError(`'${name}' is not an image: pick a painting as a JPEG, PNG or WebP file`);
    return;
  }
  const before = state.painting;
  state.painting = { image, name };
  try {
    await applyPainting();
  } catch (e) {
    state.painting = before;
    updateStrokeLabel();
    showError(e);
  }
}

// The painting at the stroke size now: its statistics once (the statistics graph), then every frame uses them.
// Runs one at a time; a request that a newer one overtook while it waited does nothing.
function applyPainting() {
  const wanted = ++state.paintingWanted;
  const run = () => (wanted === state.paintingWanted ? computePainting() : undefined);
  state.paintingJob = state.paintingJob.then(run, run);
  return state.paintingJob;
}

async function computePainting() {
  const style = state.style, { image, name } = state.painting, size = paintingSize();
  const painting = paintingImage(image, size, style.arbitrary.multiple, state.settings.painting, name);
  const t0 = performance.now();
  const stats = await paintingStats(style, painting);
  const ms = performance.now() - t0;
  style.painting = { key: ++state.paintings, name, stats };
  api.painting = { name, width: painting.width, height: painting.height, size, stroke: parseInt($("stroke").value, 10),
    ms: Math.round(ms) };
  showPreview(painting);
  $("painting-name").textContent = name;
  updateStrokeLabel();
  clearError();
  updateStatus(`painting ${name}: ${painting.width}x${painting.height} in ${ms.toFixed(0)} ms`);
  if (state.source === "image") await renderImage();
}

// The painting as read, small, beside the controls.
function showPreview(painting) {
  const canvas = $("painting-preview"), scale = Math.min(1, 96 / Math.max(painting.width, painting.height));
  canvas.width = Math.max(1, Math.round(painting.width * scale));
  canvas.height = Math.max(1, Math.round(painting.height * scale));
  const full = document.createElement("canvas");
  full.width = painting.width;
  full.height = painting.height;
  full.getContext("2d").putImageData(new ImageData(painting.data, painting.width, painting.height), 0, 0);
  canvas.getContext("2d").drawImage(full, 0, 0, canvas.width, canvas.height);
  canvas.hidden = false;
}

async function openExample(path) {
  if (!path) return;
  const name = path.split("/").pop();
  const response = await fetch(path).catch(() => null);
  if (!response?.ok) { showError(`cannot load the example painting ${path}`); return; }
  await openPainting(await response.blob(), name);
}

function setUpExamples(examples) {
  const label = (path) => path.split("/").pop().replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ");
  $("painting-example").replaceChildren(new Option("example…", ""), ...examples.map((p) => new Option(label(p), p)));
  $("painting-example").hidden = examples.length === 0;
}

async function openModel(file) {
  clearError();
  try {
    await useStyle(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (e) {
    showError(e);
    return;
  }
  if (state.source === "image") await renderImage();
}

async function main() {
  $("image-file").addEventListener("change", (e) => e.target.files[0] && openImage(e.target.files[0]));
  $("model-file").addEventListener("change", (e) => e.target.files[0] && openModel(e.target.files[0]));
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);
  $("strength").addEventListener("input", () => {
    useStrength();
    if (state.source === "image") renderImage();
  });
  $("max-side").addEventListener("change", () => { state.maxSideChosen = true; });
  for (const id of ["keep-colours", "max-side"]) {
    $(id).addEventListener("change", () => state.source === "image" && renderImage());
  }
  $("painting-file").addEventListener("change", (e) => e.target.files[0] && openPainting(e.target.files[0],
    e.target.files[0].name));
  $("painting-example").addEventListener("change", (e) => openExample(e.target.value));
  $("stroke").addEventListener("change", async () => {
    if (!state.painting || !state.style?.arbitrary) { updateStrokeLabel(); return; }
    try { await applyPainting(); } catch (e) { showError(e); }
  });
  $("stroke").addEventListener("input", updateStrokeLabel);
  const settings = await fetch("settings.json").then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .catch((e) => { throw new Error(`cannot load settings.json (written by 'fastnst export --web'): ${e.message}`); });
  state.settings = settings;
  setUpMaxSide(settings);
  $("stroke").max = String(settings.painting.stroke_sides.length);
  $("stroke").value = String(settings.painting.stroke);
  updateStrokeLabel();
  setUpExamples(settings.examples ?? []);
  const blendChanged = () => { updateBlend(); if (state.source === "image") renderImage(); };
  for (const id of ["style-select", "mix-select"]) $(id).addEventListener("change", blendChanged);
  $("mix").addEventListener("input", blendChanged);
  state.wasm = setUpWasm();
  state.backend = await pickBackend(params.get("backend") ?? "auto");
  await loadOrt(state.backend, state.wasm);
  const url = params.get("model") ?? "model.onnx";
  const response = await fetch(url).catch((e) => { throw new Error(`cannot load ${url}: ${e.message}`); });
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  try {
    await useStyle(bytes, url, url);
  } catch (e) {
    if (state.backend !== "webgpu" || e.message.includes(url)) throw e;
    state.backend = "wasm";  // a WebGPU adapter that cannot run the graph: fall back to the CPU
    await loadOrt(state.backend, state.wasm);
    await useStyle(bytes, url, url);
  }
  const live = settings.live;  // the kit's own model only (not ?model=): its live graph on these backends
  if (live && !params.get("model") && state.style.arbitrary && live.backends.includes(state.backend)) {
    state.style.live = await loadLive(state.style, live.model, state.backend);
  }
  if (state.style.arbitrary && !state.painting && settings.examples?.length) {  // the first example to start with
    $("painting-example").value = settings.examples[0];
    await openExample(settings.examples[0]);
  }
  api.backend = state.backend;
  api.threads = state.backend === "wasm" ? state.wasm.threads : null;
  api.stylize = (image, opts) => stylize(state.style, image, opts);  // for benchmarks
  api.ready = true;
}

main().catch((e) => { showError(e); api.ready = true; });
