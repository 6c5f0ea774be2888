"""Image files, array conversions and colour helpers.

Conventions: at the edges (files, video frames, onnxruntime) an image is a uint8
RGB numpy array of shape (H, W, 3); inside torch code it is a float tensor of shape
(1, 3, H, W) with values in [0, 1]. The conversions between the two live here and
nowhere else.

Every float that becomes a pixel goes through :func:`to_uint8` (NaN -> 0, +inf -> 255,
-inf -> 0), and every uint8 frame a function takes is checked by :func:`check_frame`.

This module must stay importable without torch (the onnxruntime runtime uses it),
so :func:`to_tensor` and :func:`to_image` import torch inside the function.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from skimage import data as skimage_data  # cheap: scikit-image loads its submodules on first use

from fastnst.errors import UserError
from fastnst.files import atomic_output, check_not_input

if TYPE_CHECKING:
    import torch  # for the annotations only: see the top

__all__ = [
    "LUMA",
    "SAVE_EXTENSIONS",
    "blend",
    "check_frame",
    "from_nchw",
    "gray_rgb",
    "load_image",
    "luminance",
    "resize",
    "resize_long_side",
    "sample_content",
    "sample_style",
    "save_image",
    "to_image",
    "to_nchw",
    "to_tensor",
    "to_uint8",
    "transfer_luminance",
]

# Pillow format name and save options for each supported output extension.
_SAVE_FORMATS: dict[str, tuple[str, dict]] = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
    ".bmp": ("BMP", {}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
}
SAVE_EXTENSIONS: tuple[str, ...] = tuple(sorted(_SAVE_FORMATS))

# Errors Pillow raises while decoding a broken or unsupported file.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, Image.DecompressionBombError)


def _reason(error: BaseException) -> str:
    """A one-line description of an exception, without a repeated file name."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- reading


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as a uint8 RGB array of shape (H, W, 3).

    Pillow decodes first (JPEG, PNG, WebP, BMP, TIFF, GIF first frame, ...), fully,
    so a truncated file is an error; EXIF orientation is applied. Files Pillow does
    not recognise (e.g. float TIFF) go to OpenCV. Conversions to 8-bit RGB:
    grey is replicated, alpha is composited onto white, palette and CMYK are
    converted, 16-bit values are divided by 257 and rounded, float values are
    taken as [0, 1] and clipped. Pillow's own decoder for 16-bit RGB(A) PNG/TIFF
    keeps the high byte (v >> 8), which can differ from round(v / 257) by 1.

    Raises UserError("cannot read image '<path>': <reason>") for a missing file,
    a directory, an empty, truncated or non-image file.
    """
    name = os.fspath(path)

    def fail(reason: str) -> UserError:
        return UserError(f"cannot read image '{name}': {reason}")

    if not os.path.exists(name):
        raise fail("no such file")
    if os.path.isdir(name):
        raise fail("is a directory")
    if os.path.getsize(name) == 0:
        raise fail("file is empty")
    try:
        try:
            with Image.open(name) as im:
                im.load()
                return _pil_to_rgb(ImageOps.exif_transpose(im))
        except UnidentifiedImageError:
            pass  # not a format Pillow knows; OpenCV may
        array = cv2.imdecode(np.fromfile(name, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except (*_DECODE_ERRORS, cv2.error) as error:
        raise fail(_reason(error)) from error
    if array is None:
        raise fail("not an image file, or a format neither Pillow nor OpenCV can read")
    return _opencv_to_rgb(array, fail)


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to uint8 RGB (H, W, 3)."""
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        return _gray_to_rgb(_16bit_to_8bit(np.clip(np.asarray(im), 0, 65535)))
    if im.mode == "F":
        return _gray_to_rgb(to_uint8(np.asarray(im)))
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"))
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    return np.asarray(im.convert("RGB")).copy()


def _opencv_to_rgb(array: np.ndarray, fail: Callable[[str], Exception]) -> np.ndarray:
    """Convert an array from cv2.imdecode(IMREAD_UNCHANGED) (BGR order) to uint8 RGB."""
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.uint16:
        array = _16bit_to_8bit(array)
    elif array.dtype in (np.float16, np.float32, np.float64):
        array = to_uint8(array)
    else:
        raise fail(f"unsupported pixel type {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return _gray_to_rgb(array)
    channels = array.shape[2]
    if channels == 2:  # grey + alpha
        return _composite_on_white(_gray_to_rgb(array[..., 0]), array[..., 1])
    if channels == 3:
        return np.ascontiguousarray(array[..., ::-1])
    if channels == 4:
        return _composite_on_white(array[..., 2::-1], array[..., 3])
    raise fail(f"unsupported number of channels: {channels}")


def _16bit_to_8bit(values: np.ndarray) -> np.ndarray:
    """Map 0..65535 to 0..255: round(v / 257)."""
    return to_uint8(values, scale=1.0 / 257.0)


def to_uint8(values: np.ndarray, scale: float = 255.0) -> np.ndarray:
    """Floats -> a new uint8 array of the same shape: the one place where a float becomes a pixel.

    ``values`` (any shape, any real dtype; nominally [0, 1], or [0, 255 / scale]) are clipped
    to [0, 255 / scale], multiplied by ``scale`` in float32 and rounded half to even. Every
    float has a defined pixel: NaN -> 0, +inf -> 255, -inf -> 0. (A C cast of NaN to uint8 is
    undefined: OpenCV's own saturation gave 0 on AMD CPUs and 255 on Intel ones with AVX-512.)

    With the default scale this is exactly np.rint(np.clip(np.nan_to_num(values), 0, 1) * 255)
    in float32, and 6x faster: np.fmax / np.fmin clip (and, unlike np.clip, send NaN to the
    bound) into a new float32 array, then OpenCV scales, rounds to nearest even and
    saturates in one pass, seeing one channel so that no per-channel rule applies.
    """
    clipped = np.fmax(values, np.float32(0.0), dtype=np.float32)  # NaN -> 0, -inf -> 0
    np.fmin(clipped, np.float32(255.0 / scale), out=clipped)  # +inf -> the top
    if clipped.size == 0:  # OpenCV returns None for an empty array
        return clipped.astype(np.uint8)
    return cv2.convertScaleAbs(clipped.reshape(1, -1), alpha=scale).reshape(clipped.shape)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-composite uint8 RGB (H, W, 3) with uint8 alpha (H, W) onto white."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    return to_uint8(rgb.astype(np.float32) * a + 255.0 * (1.0 - a), scale=1.0)


def image_extensions() -> set[str]:
    """File extensions (lower case, with the dot) that Pillow or OpenCV can read."""
    return set(Image.registered_extensions()) | {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff",
                                                 ".jp2", ".pbm", ".pgm", ".ppm", ".exr", ".hdr", ".avif"}


def walk_images(folder: str | os.PathLike[str]) -> list[str]:
    """Paths of the files below ``folder`` (recursively, sorted) with an image extension."""
    exts = image_extensions()
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        out += [os.path.join(root, n) for n in sorted(names) if os.path.splitext(n)[1].lower() in exts]
    return out


# --------------------------------------------------------------------------- writing


def save_image(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> None:
    """Save a uint8 RGB (H, W, 3) or grey (H, W) array; the format follows the extension.

    Supported: .png, .jpg/.jpeg (quality 95), .webp (lossy, quality 95), .bmp,
    .tif/.tiff. The write is atomic (see :func:`fastnst.files.atomic_output`) and the folder is
    created if missing. No EXIF is written, so orientation is what you see.
    Raises UserError for an unsupported extension, a bad array (:func:`check_frame`), when
    ``path`` is one of ``inputs``, is a directory, or cannot be written.
    """
    name = os.fspath(path)
    extension = os.path.splitext(name)[1].lower()
    if extension not in _SAVE_FORMATS:
        supported = ", ".join(SAVE_EXTENSIONS)
        shown = f"'{extension}'" if extension else "none"
        raise UserError(
            f"cannot write image '{name}': unsupported extension {shown} (supported: {supported})"
        )
    check_not_input(name, inputs)
    image = check_frame(image, "save_image", grey=True)
    if os.path.isdir(name):
        raise UserError(f"cannot write image '{name}': is a directory")
    fmt, options = _SAVE_FORMATS[extension]
    try:
        with atomic_output(name) as temp:
            Image.fromarray(np.ascontiguousarray(image)).save(temp, format=fmt, **options)
    except OSError as error:
        raise UserError(f"cannot write image '{name}': {_reason(error)}") from error


# --------------------------------------------------------------------------- conversions


def check_frame(frame: Any, what: str = "frame", *, grey: bool = False, alpha: bool = False) -> np.ndarray:
    """The one check of a uint8 frame handed to fastnst: ``np.asarray(frame)``, not copied.

    Accepts uint8 (H, W, 3) RGB; also (H, W) with ``grey`` and (H, W, 4) RGBA with ``alpha``.
    Anything else raises UserError("<what>: expected a uint8 array of shape ..., got <dtype> <shape>").
    """
    array = np.asarray(frame)
    channels = array.shape[2] if array.ndim == 3 else None
    if array.dtype == np.uint8 and ((grey and array.ndim == 2) or channels == 3 or (alpha and channels == 4)):
        return array
    shapes = [shape for shape, ok in (("(H, W)", grey), ("(H, W, 3)", True), ("(H, W, 4)", alpha)) if ok]
    wanted = f"{', '.join(shapes[:-1])} or {shapes[-1]}" if len(shapes) > 1 else shapes[0]
    raise UserError(f"{what}: expected a uint8 array of shape {wanted}, got {array.dtype} {array.shape}")


def to_nchw(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> new float32 array (1, 3, H, W) in [0, 1] (value / 255)."""
    image = check_frame(image, "to_nchw")
    return np.ascontiguousarray((image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])


def from_nchw(array: np.ndarray) -> np.ndarray:
    """Float (1, 3, H, W) or (3, H, W), nominally in [0, 1] -> new uint8 RGB (H, W, 3).

    Values are clipped to [0, 1], scaled by 255 and rounded half to even by :func:`to_uint8`
    (NaN -> 0, +inf -> 255, -inf -> 0), so from_nchw(to_nchw(x)) == x exactly.
    """
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"from_nchw expects shape (1, 3, H, W) or (3, H, W), got {array.shape}")
    planes = to_uint8(array)  # (3, H, W)
    if planes.size == 0:  # cv2.merge rejects empty planes
        return np.ascontiguousarray(planes.transpose(1, 2, 0))
    return cv2.merge(list(planes))  # interleaved to (H, W, 3), 40x faster than a numpy transpose copy


def to_tensor(image: np.ndarray, device: str | torch.device | None = None) -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> new torch.float32 tensor (1, 3, H, W) in [0, 1] on ``device``."""
    import torch  # lazily: torch is optional for this module's users (the onnxruntime runtime)

    tensor = torch.from_numpy(to_nchw(image))
    return tensor if device is None else tensor.to(device)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """Float tensor (1, 3, H, W) or (3, H, W), any device/dtype -> uint8 RGB (H, W, 3).

    Detaches, moves to the CPU as float32, then applies :func:`from_nchw`
    (clip to [0, 1], round half to even; NaN -> 0, +inf -> 255, -inf -> 0). The tensor is not modified.
    """
    import torch  # lazily: torch is optional for this module's users (the onnxruntime runtime)

    return from_nchw(tensor.detach().to(device="cpu", dtype=torch.float32).numpy())


# --------------------------------------------------------------------------- resizing


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 (H, W, 3) or (H, W) image to ``size`` = (width, height).

    INTER_AREA when neither side grows, INTER_CUBIC otherwise. Returns the input
    object itself (not a copy) when the size is already right.
    """
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise ValueError(f"resize needs a positive (width, height), got {size}")
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    interpolation = cv2.INTER_AREA if width <= w and height <= h else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interpolation)


def resize_long_side(image: np.ndarray, size: int | None, *, enlarge: bool = True) -> np.ndarray:
    """Scale a uint8 (H, W, 3) or (H, W) image so its longer side is ``size`` pixels.

    The aspect ratio is kept (short side rounded, at least 1); see :func:`resize` for the
    interpolation. With ``enlarge=False`` an image whose long side is already at most ``size``
    is left as it is (only shrinking). Returns the input object itself (not a copy) when
    ``size`` is None or nothing is to be done.
    """
    if size is None:
        return image
    if int(size) < 1:
        raise ValueError(f"resize_long_side needs a positive size, got {size}")
    h, w = image.shape[:2]
    if not enlarge and max(h, w) <= int(size):
        return image
    scale = int(size) / max(h, w)
    return resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))


# --------------------------------------------------------------------------- colour

LUMA = (0.299, 0.587, 0.114)  # BT.601 luma weights of R, G, B: Y = 0.299 R + 0.587 G + 0.114 B

# RGB -> YIQ (NTSC / BT.601 luma), as used by Gatys et al. 2016 for colour preservation.
_RGB_TO_YIQ = np.array(
    [
        LUMA,
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def _to_yiq(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) / 255.0) @ _RGB_TO_YIQ.T.astype(np.float32)


def luminance(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (H, W) in [0, 1]: Y = :data:`LUMA` . (R, G, B) / 255."""
    image = check_frame(image, "luminance")
    return np.clip(_to_yiq(image)[..., 0], 0.0, 1.0)


def gray_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 (H, W, 3) whose three channels are its luminance."""
    return _gray_to_rgb(to_uint8(luminance(image)))


def transfer_luminance(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Keep the original's colours: stylized luminance (Y) + original chrominance (I, Q).

    Colour-preserving style transfer by luminance-only transfer (Gatys et al. 2016,
    "Preserving color in neural artistic style transfer"). Both are uint8 RGB
    (H, W, 3); ``stylized`` is resized to the original's size if they differ. The
    result, uint8 RGB of the original's size, is clipped to the RGB gamut, so its
    luminance matches the stylized one except where clipping was needed.
    """
    stylized = check_frame(stylized, "transfer_luminance")
    original = check_frame(original, "transfer_luminance")
    h, w = original.shape[:2]
    stylized = resize(stylized, (w, h))
    yiq = _to_yiq(original)
    yiq[..., 0] = _to_yiq(stylized)[..., 0]
    rgb = yiq @ _YIQ_TO_RGB.T.astype(np.float32)
    return to_uint8(rgb)


def blend(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """Mix two uint8 images of the same shape: (1 - alpha) * a + alpha * b, rounded.

    ``alpha`` in [0, 1]: 0 gives ``a``, 1 gives ``b`` (e.g. a = original,
    b = stylized, alpha = style strength). Returns a new uint8 array.
    """
    if a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"blend expects two uint8 arrays of one shape, "
                         f"got {a.dtype} {a.shape} and {b.dtype} {b.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"blend alpha must be in [0, 1], got {alpha}")
    mixed = a.astype(np.float32) * np.float32(1.0 - alpha) + b.astype(np.float32) * np.float32(alpha)
    return to_uint8(mixed, scale=1.0)


# --------------------------------------------------------------------------- samples


def sample_content() -> np.ndarray:
    """A public-domain photo, uint8 RGB (512, 512, 3): NASA's astronaut Eileen Collins.

    Bundled with scikit-image (skimage.data.astronaut), so no download is needed.
    """
    return np.ascontiguousarray(skimage_data.astronaut(), dtype=np.uint8)


def sample_style(size: int = 512) -> np.ndarray:
    """A generated, deterministic painterly pattern, uint8 RGB (size, size, 3).

    Swirling concentric colour waves with fine brush-stroke texture along them,
    made with numpy only: a style image for tests and examples that needs no file.
    """
    if int(size) < 8:
        raise ValueError(f"sample_style needs size >= 8, got {size}")
    n = int(size)
    y, x = np.mgrid[0:n, 0:n] / (n - 1) * 2.0 - 1.0
    radius = np.hypot(x, y)
    angle = np.arctan2(y, x) + 3.0 * np.exp(-2.5 * radius)  # swirl, strongest in the centre
    u = radius * np.cos(angle) + 0.12 * np.sin(5.0 * y + 1.3)
    v = radius * np.sin(angle) + 0.12 * np.sin(4.0 * x + 0.7)
    waves = 9.0 * np.hypot(u - 0.2, v + 0.1) + 2.0 * np.sin(3.0 * u) + 1.5 * np.cos(2.5 * v)
    t = 0.5 + 0.5 * np.sin(waves)
    # Cosine palette: deep blue -> teal -> yellow -> orange -> red.
    phase = np.array([0.05, 0.25, 0.55])
    colour = 0.5 + 0.45 * np.cos(2.0 * np.pi * (0.9 * t[..., None] + 0.3 * u[..., None] + phase))
    # Brush strokes: fine stripes along the waves, shifted per short dab (a fixed
    # sine hash of the dab's cell), plus a faint high-frequency canvas grain.
    dab = np.floor(18.0 * (u + 1.0)) + 7.0 * np.floor(18.0 * (v + 1.0))
    strokes = np.sin(25.0 * waves + 2.0 * np.sin(12.9898 * dab))
    grain = np.sin(97.0 * u + 61.0 * v) * np.sin(83.0 * v - 47.0 * u)
    colour *= (0.85 + 0.11 * strokes + 0.04 * grain)[..., None]
    return to_uint8(colour)
