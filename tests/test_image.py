"""Tests for fastnst.image: reading, writing, conversions, colour helpers, samples."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from fastnst import image as fi
from fastnst.errors import UserError
from fastnst.files import check_not_input

H, W = 48, 64  # not square, so rotations are detectable


def gradient(h=H, w=W):
    """A colourful uint8 RGB (h, w, 3) test image: three different ramps."""
    y, x = np.mgrid[0:h, 0:w]
    r = x * 255 // (w - 1)
    g = y * 255 // (h - 1)
    b = (x + 2 * y) * 255 // (w + 2 * h - 3)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def noise16(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 65536, size=shape, dtype=np.uint16)


def expected_8bit(v16):
    return np.rint(v16 / 257.0).astype(np.uint8)


def assert_close(a, b, mean_tol, max_tol=255):
    assert a.shape == b.shape
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.mean() <= mean_tol and diff.max() <= max_tol, (diff.mean(), diff.max())


def check_rgb8(a, shape=(H, W, 3)):
    assert isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.shape == shape


# --------------------------------------------------------------------------- load_image formats


def test_png_8bit_exact_non_ascii_name(tmp_path):
    img = gradient()
    path = tmp_path / "bild-ü.png"
    Image.fromarray(img).save(path)
    out = fi.load_image(path)
    check_rgb8(out)
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_rgb_scaled_not_clipped(tmp_path, ext):
    v16 = noise16((H, W, 3))
    v16[0, :, :] = (np.arange(W)[:, None] * 4 * 257).clip(0, 65535)  # exact multiples of 257
    path = tmp_path / f"rgb16{ext}"
    assert cv2.imwrite(str(path), v16[..., ::-1])  # OpenCV writes BGR
    out = fi.load_image(path)
    check_rgb8(out)
    # Within 1 of round(v / 257): Pillow keeps the high byte for 16-bit RGB.
    assert_close(out, expected_8bit(v16), mean_tol=0.5, max_tol=1)
    np.testing.assert_array_equal(out[0], expected_8bit(v16[0]))
    assert out.max() > 250 and out.min() < 5


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_gray_exact_scaling(tmp_path, ext):
    v16 = noise16((H, W), seed=1)
    path = tmp_path / f"gray16{ext}"
    assert cv2.imwrite(str(path), v16)
    out = fi.load_image(path)
    check_rgb8(out)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], expected_8bit(v16))


def test_palette_png(tmp_path):
    pal = Image.fromarray(gradient()).quantize(colors=16)
    path = tmp_path / "pal.png"
    pal.save(path)
    out = fi.load_image(path)
    check_rgb8(out)
    np.testing.assert_array_equal(out, np.asarray(pal.convert("RGB")))


def test_palette_png_with_transparency_composites_on_white(tmp_path):
    pal = Image.fromarray(gradient()).quantize(colors=16)
    index = np.asarray(pal)[0, 0]
    path = tmp_path / "pal_t.png"
    pal.save(path, transparency=int(index))
    out = fi.load_image(path)
    transparent = np.asarray(pal) == index
    assert (out[transparent] == 255).all()
    np.testing.assert_array_equal(out[~transparent], np.asarray(pal.convert("RGB"))[~transparent])


def test_rgba_png_composites_on_white(tmp_path):
    img = gradient()
    alpha = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([img, alpha])).save(path)
    out = fi.load_image(path)
    check_rgb8(out)
    a = alpha[..., None] / 255.0
    assert_close(out, np.rint(img * a + 255 * (1 - a)).astype(np.uint8), mean_tol=0.5, max_tol=1)
    assert (out[:, 0] == 255).all()  # fully transparent -> white
    np.testing.assert_array_equal(out[:, -1], img[:, -1])  # opaque -> unchanged


def test_grayscale_png(tmp_path):
    gray = gradient()[..., 0]
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path)
    out = fi.load_image(path)
    check_rgb8(out)
    np.testing.assert_array_equal(out, np.dstack([gray] * 3))


def test_cmyk_jpeg(tmp_path):
    img = gradient()
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(img).convert("CMYK").save(path, quality=95)
    with Image.open(path) as im:
        assert im.mode == "CMYK"
    out = fi.load_image(path)
    check_rgb8(out)
    assert_close(out, img, mean_tol=3)


def test_webp_lossless_exact(tmp_path):
    img = gradient()
    path = tmp_path / "a.webp"
    Image.fromarray(img).save(path, lossless=True)
    np.testing.assert_array_equal(fi.load_image(path), img)


@pytest.mark.parametrize("ext", [".bmp", ".tif", ".tiff"])
def test_lossless_8bit_formats_exact(tmp_path, ext):
    img = gradient()
    path = tmp_path / f"a{ext}"
    assert cv2.imwrite(str(path), img[..., ::-1])
    np.testing.assert_array_equal(fi.load_image(path), img)


def test_jpeg_approx(tmp_path):
    img = gradient()
    path = tmp_path / "a.jpg"
    Image.fromarray(img).save(path, quality=95)
    out = fi.load_image(path)
    check_rgb8(out)
    assert_close(out, img, mean_tol=3)


def test_gif_first_frame(tmp_path):
    red = Image.new("RGB", (W, H), (255, 0, 0))
    blue = Image.new("RGB", (W, H), (0, 0, 255))
    path = tmp_path / "anim.gif"
    red.save(path, save_all=True, append_images=[blue], duration=100)
    out = fi.load_image(path)
    check_rgb8(out)
    assert (out == [255, 0, 0]).all()


def test_float_tiff_via_opencv_fallback(tmp_path):
    values = np.linspace(-0.5, 1.5, H * W * 3, dtype=np.float32).reshape(H, W, 3)
    path = tmp_path / "float.tif"
    assert cv2.imwrite(str(path), values[..., ::-1])
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(path)  # so this exercises the OpenCV path
    out = fi.load_image(path)
    check_rgb8(out)
    np.testing.assert_array_equal(out, np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8))


def test_float_rgba_tiff_via_opencv_fallback(tmp_path):
    rgb = gradient() / 255.0
    alpha = np.ones((H, W))
    alpha[:, : W // 2] = 0.0
    path = tmp_path / "float_rgba.tif"
    assert cv2.imwrite(str(path), np.dstack([rgb[..., ::-1], alpha]).astype(np.float32))
    out = fi.load_image(path)
    check_rgb8(out)
    assert (out[:, : W // 2] == 255).all()
    np.testing.assert_array_equal(out[:, W // 2 :], gradient()[:, W // 2 :])


def test_opencv_16bit_bgr_conversion():
    # Pillow reads every 16-bit file OpenCV can write, so check the OpenCV branch directly.
    bgr = noise16((H, W, 3), seed=2)
    out = fi._opencv_to_rgb(bgr, fail=UserError)
    np.testing.assert_array_equal(out, expected_8bit(bgr[..., ::-1]))
    gray_alpha = np.dstack([bgr[..., 0], np.zeros((H, W), np.uint16)])
    assert (fi._opencv_to_rgb(gray_alpha, fail=UserError) == 255).all()


def test_exif_orientation_applied(tmp_path):
    img = gradient()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(img).save(path, quality=95, exif=exif)
    out = fi.load_image(path)
    check_rgb8(out, (W, H, 3))
    assert_close(out, np.rot90(img, k=-1), mean_tol=3)
    assert np.abs(out.astype(int) - np.rot90(img, k=1)).mean() > 30


# --------------------------------------------------------------------------- load_image errors


def assert_read_error(path, words):
    with pytest.raises(UserError) as info:
        fi.load_image(path)
    message = str(info.value)
    assert message.startswith(f"cannot read image '{path}': ")
    assert "\n" not in message
    assert any(w in message.lower() for w in words), message


def test_missing_file(tmp_path):
    assert_read_error(str(tmp_path / "nope.jpg"), ["no such file"])


def test_directory(tmp_path):
    assert_read_error(str(tmp_path), ["directory"])


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert_read_error(str(path), ["empty"])


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_file(tmp_path, ext):
    full = tmp_path / f"full{ext}"
    Image.fromarray(gradient(200, 300)).save(full)
    data = full.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    assert_read_error(str(cut), ["truncated", "incomplete", "broken", "end"])


def test_text_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not an image\n" * 20)
    assert_read_error(str(path), ["not an image"])


def test_truncated_images_not_allowed_globally():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_module_does_not_import_torch():
    code = "import sys, fastnst.image; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- save_image


@pytest.mark.parametrize("ext", [".png", ".PNG", ".bmp", ".tif", ".tiff"])
def test_save_lossless_round_trip(tmp_path, ext):
    img = gradient()
    path = tmp_path / f"out{ext}"
    fi.save_image(path, img)
    np.testing.assert_array_equal(fi.load_image(path), img)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp"])
def test_save_lossy_round_trip(tmp_path, ext):
    img = gradient()
    path = tmp_path / f"out{ext}"
    fi.save_image(path, img)
    assert_close(fi.load_image(path), img, mean_tol=3)


def test_save_grayscale(tmp_path):
    gray = gradient()[..., 1]
    fi.save_image(tmp_path / "g.png", gray)
    np.testing.assert_array_equal(fi.load_image(tmp_path / "g.png"), np.dstack([gray] * 3))


def test_save_creates_folder_and_replaces_existing(tmp_path):
    path = tmp_path / "a" / "b" / "out.png"
    fi.save_image(path, np.zeros((4, 5, 3), np.uint8))
    fi.save_image(path, np.full((4, 5, 3), 200, np.uint8))
    assert (fi.load_image(path) == 200).all()
    assert os.listdir(path.parent) == ["out.png"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_save_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        fi.save_image(tmp_path / "p.png", gradient())
    finally:
        os.umask(old)
    assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o644


def test_failing_save_leaves_nothing(tmp_path, monkeypatch):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"old content")

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk on fire"):
        fi.save_image(existing, gradient())
    with pytest.raises(RuntimeError):
        fi.save_image(tmp_path / "new.png", gradient())
    assert os.listdir(tmp_path) == ["out.png"]
    assert existing.read_bytes() == b"old content"


def test_os_error_while_saving_is_user_error(tmp_path, monkeypatch):
    def full_disk(self, fp, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    path = tmp_path / "out.jpg"
    with pytest.raises(UserError, match=r"cannot write image '.*out\.jpg': No space left on device"):
        fi.save_image(path, gradient())
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite_input(tmp_path, monkeypatch):
    src = tmp_path / "x.png"
    Image.fromarray(gradient()).save(src)
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    spellings = [src, str(src), "./x.png", "sub/../x.png"]
    (tmp_path / "sub").mkdir()
    try:
        os.symlink(src, tmp_path / "link.png")
        spellings.append("link.png")
    except OSError:
        pass
    for out in spellings:
        with pytest.raises(UserError, match="input"):
            fi.save_image(out, np.zeros((2, 2, 3), np.uint8), inputs=["other.png", str(src)])
    # Works when only the input spelling differs, and for a single path given as a string.
    with pytest.raises(UserError, match="x.png"):
        fi.save_image(src, np.zeros((2, 2, 3), np.uint8), inputs="./x.png")
    assert src.read_bytes() == before
    check_not_input(tmp_path / "y.png", [src, None])  # different file: fine


@pytest.mark.parametrize("name", ["out.gif", "out.jpe", "out"])
def test_unknown_extension(tmp_path, name):
    with pytest.raises(UserError, match=r"unsupported extension.*\.png.*\.webp"):
        fi.save_image(tmp_path / name, gradient())
    assert os.listdir(tmp_path) == []


def test_save_bad_array_and_directory(tmp_path):
    with pytest.raises(UserError, match=r"save_image: expected a uint8 array of shape \(H, W\) or \(H, W, 3\)"):
        fi.save_image(tmp_path / "f.png", gradient().astype(np.float32))
    with pytest.raises(UserError, match=r"got uint8 \(4, 4, 4\)"):
        fi.save_image(tmp_path / "f.png", np.zeros((4, 4, 4), np.uint8))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(UserError, match="directory"):
        fi.save_image(tmp_path / "d.png", gradient())


# --------------------------------------------------------------------------- conversions


def every_value_image():
    return np.arange(256 * 3, dtype=np.uint16).reshape(16, 16, 3).astype(np.uint8)


def test_to_nchw_shape_values_and_no_aliasing():
    img = every_value_image()
    copy = img.copy()
    arr = fi.to_nchw(img)
    assert arr.shape == (1, 3, 16, 16) and arr.dtype == np.float32 and arr.flags.c_contiguous
    assert arr.min() == 0.0 and arr.max() == 1.0
    assert arr[0, 2, 3, 4] == np.float32(img[3, 4, 2]) / 255
    arr[...] = 0.5
    np.testing.assert_array_equal(img, copy)


def test_nchw_round_trip_exact_and_inputs_untouched():
    img = every_value_image()
    arr = fi.to_nchw(img)
    arr_copy = arr.copy()
    out = fi.from_nchw(arr)
    assert out.shape == img.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, img)
    np.testing.assert_array_equal(fi.from_nchw(arr[0]), img)
    np.testing.assert_array_equal(arr, arr_copy)


def test_from_nchw_clips_and_rounds():
    arr = np.array([-0.5, 1.5, np.nan, 0.5, 100 / 255, 100.4 / 255], dtype=np.float64).reshape(1, 3, 1, 2)
    out = fi.from_nchw(arr)
    assert out.shape == (1, 2, 3)
    assert out.transpose(2, 0, 1).ravel().tolist() == [0, 255, 0, 128, 100, 100]
    inf = fi.from_nchw(np.array([np.inf, -np.inf, 1e30], np.float32).reshape(3, 1, 1))
    assert inf.ravel().tolist() == [255, 0, 255]
    assert fi.from_nchw(np.zeros((1, 3, 0, 4), np.float32)).shape == (0, 4, 3)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_to_uint8_gives_every_float_a_pixel(dtype):
    values = np.array([np.nan, np.inf, -np.inf, 0.5, -0.1, 1.1, 0.0, 1.0], dtype)
    assert fi.to_uint8(values).tolist() == [0, 255, 0, 128, 0, 255, 0, 255]
    assert fi.to_uint8(values.reshape(2, 2, 2)).shape == (2, 2, 2)
    levels = np.array([np.nan, np.inf, -np.inf, 127.5, 128.5, 300, -5], dtype)  # 0..255 floats, as blend makes
    assert fi.to_uint8(levels, scale=1.0).tolist() == [0, 255, 0, 128, 128, 255, 0]


def test_nan_pixels_do_not_depend_on_the_cpu(tmp_path, monkeypatch):
    """Every float -> pixel path gives NaN -> 0 even where OpenCV's saturation turns NaN into 255.

    That is what Intel CPUs with AVX-512 do (AMD ones gave 0, so a plain NaN test passed there):
    OpenCV is made to behave so on any machine, and the conversions must not hand it a NaN.
    """
    real = cv2.convertScaleAbs

    def avx512(src, *args, **kwargs):
        out = real(np.nan_to_num(src), *args, **kwargs)
        out[np.isnan(src)] = 255
        return out

    monkeypatch.setattr(cv2, "convertScaleAbs", avx512)
    nan = np.full((1, 3, 2, 2), np.nan, np.float32)
    assert (fi.from_nchw(nan) == 0).all()
    assert (fi.to_uint8(nan) == 0).all()
    path = tmp_path / "nan.tif"
    assert cv2.imwrite(str(path), nan[0].transpose(1, 2, 0))
    assert (fi.load_image(path) == 0).all()
    torch = pytest.importorskip("torch")
    assert (fi.to_image(torch.from_numpy(nan)) == 0).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_from_nchw_matches_numpy_rounding(dtype):
    """The OpenCV conversion against float32 clip * 255 and np.rint, exact, ties (k + 0.5) / 255 included."""
    rng = np.random.default_rng(0)
    arr = np.concatenate([rng.uniform(-0.2, 1.2, 3 * 61 * 47 - 511), (np.arange(511) / 2 / 255)])
    arr = arr.reshape(3, 61, 47).astype(dtype)
    ref = np.rint(np.clip(arr.astype(np.float32), 0, 1) * np.float32(255)).astype(np.uint8).transpose(1, 2, 0)
    out = fi.from_nchw(arr)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (4, 4, 3), (1, 1, 4, 4)])
def test_from_nchw_rejects_bad_shapes(shape):
    with pytest.raises(ValueError):
        fi.from_nchw(np.zeros(shape, np.float32))


def test_to_nchw_rejects_bad_input():
    with pytest.raises(UserError, match=r"to_nchw: expected a uint8 array of shape \(H, W, 3\), got float32"):
        fi.to_nchw(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(UserError, match=r"got uint8 \(4, 4\)"):
        fi.to_nchw(np.zeros((4, 4), np.uint8))


def test_check_frame():
    rgb, grey, rgba = np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint8), np.zeros((4, 5, 4), np.uint8)
    assert fi.check_frame(rgb) is rgb
    assert fi.check_frame(grey, grey=True) is grey and fi.check_frame(rgba, alpha=True) is rgba
    for bad, kwargs in [(grey, {}), (rgba, {"grey": True}), (rgb.astype(np.float32), {"grey": True, "alpha": True}),
                        (np.zeros((4, 5, 2), np.uint8), {"grey": True, "alpha": True}), ("frame", {})]:
        with pytest.raises(UserError, match=r"^frames: expected a uint8 array of shape .*\(H, W, 3\).*, got "):
            fi.check_frame(bad, "frames", **kwargs)
    with pytest.raises(UserError, match=r"shape \(H, W\), \(H, W, 3\) or \(H, W, 4\), got float32 \(4, 5, 3\)$"):
        fi.check_frame(rgb.astype(np.float32), "frames", grey=True, alpha=True)


def test_torch_round_trip():
    torch = pytest.importorskip("torch")
    img = every_value_image()
    copy = img.copy()
    t = fi.to_tensor(img)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and tuple(t.shape) == (1, 3, 16, 16)
    assert t.device.type == "cpu" and 0.0 <= t.min().item() and t.max().item() <= 1.0
    t.mul_(0.0)  # the tensor owns its memory
    np.testing.assert_array_equal(img, copy)

    t = fi.to_tensor(img, device="cpu").requires_grad_(True)
    before = t.detach().clone()
    np.testing.assert_array_equal(fi.to_image(t), img)
    np.testing.assert_array_equal(fi.to_image(t[0].double()), img)
    assert torch.equal(t.detach(), before)
    assert fi.to_image(torch.full((3, 2, 2), 2.0)).max() == 255


# --------------------------------------------------------------------------- resizing


def test_resize_long_side():
    img = gradient()  # 48 x 64
    assert fi.resize_long_side(img, 32).shape == (24, 32, 3)
    assert fi.resize_long_side(img.transpose(1, 0, 2), 32).shape == (32, 24, 3)
    assert fi.resize_long_side(img, 128).shape == (96, 128, 3)
    assert fi.resize_long_side(img, None) is img
    assert fi.resize_long_side(img, 64) is img
    flat = np.full((30, 50, 3), 77, np.uint8)
    assert (fi.resize_long_side(flat, 20) == 77).all() and (fi.resize_long_side(flat, 90) == 77).all()
    assert fi.resize_long_side(np.zeros((1, 100, 3), np.uint8), 10).shape == (1, 10, 3)
    with pytest.raises(ValueError):
        fi.resize_long_side(img, 0)
    assert fi.resize_long_side(img, 128, enlarge=False) is img  # only shrinks
    assert fi.resize_long_side(img, 32, enlarge=False).shape == fi.resize_long_side(img, 32).shape == (24, 32, 3)


def test_resize_exact_size():
    img = gradient()
    out = fi.resize(img, (20, 10))
    assert out.shape == (10, 20, 3) and out.dtype == np.uint8
    assert fi.resize(img[..., 0], (70, 50)).shape == (50, 70)
    assert fi.resize(img, (W, H)) is img
    # Area averaging when shrinking by 2: each output pixel is the mean of a 2x2 block.
    checker = np.indices((8, 8)).sum(0) % 2 * 200
    shrunk = fi.resize(np.dstack([checker] * 3).astype(np.uint8), (4, 4))
    assert (shrunk == 100).all()


# --------------------------------------------------------------------------- colour


def test_luminance_known_values():
    img = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8)
    y = fi.luminance(img)
    assert y.shape == (1, 5) and y.dtype == np.float32
    np.testing.assert_allclose(y[0], [0.299, 0.587, 0.114, 1.0, 0.0], atol=1e-6)


def test_gray_rgb():
    img = gradient()
    g = fi.gray_rgb(img)
    check_rgb8(g)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    np.testing.assert_array_equal(g[..., 0], np.rint(fi.luminance(img) * 255).astype(np.uint8))


def yiq(img):
    m = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    return img / 255.0 @ m.T


def test_transfer_luminance_identity():
    img = gradient()
    assert_close(fi.transfer_luminance(img, img), img, mean_tol=0.2, max_tol=1)


def test_transfer_luminance_keeps_original_chroma():
    rng = np.random.default_rng(3)
    # Muted original colours and a mid-grey-ish stylized image, so nothing leaves the gamut.
    original = rng.integers(100, 160, size=(H, W, 3)).astype(np.uint8)
    stylized = rng.integers(70, 190, size=(H, W, 3)).astype(np.uint8)
    out = fi.transfer_luminance(stylized, original)
    check_rgb8(out)
    assert np.abs(fi.luminance(out) - fi.luminance(stylized)).max() <= 1.0 / 255
    assert np.abs(yiq(out)[..., 1:] - yiq(original)[..., 1:]).max() <= 3.0 / 255
    # And it is really the stylized structure, not the original.
    assert np.abs(fi.luminance(out) - fi.luminance(original)).mean() > 0.05


def test_transfer_luminance_resizes_stylized():
    original = gradient() // 2 + 64  # muted, so grey luminance stays inside the gamut
    stylized = np.full((H // 2, W // 2, 3), 128, np.uint8)
    out = fi.transfer_luminance(stylized, original)
    check_rgb8(out)
    assert np.abs(fi.luminance(out) - 128 / 255).max() <= 1.0 / 255
    # Grey luminance with the original's colours: red stays redder on the right.
    assert out[:, -1, 0].mean() > out[:, 0, 0].mean() + 30


def test_blend():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    np.testing.assert_array_equal(fi.blend(a, b, 0.0), a)
    np.testing.assert_array_equal(fi.blend(a, b, 1.0), b)
    assert (fi.blend(a, b, 0.25) == 50).all()
    with pytest.raises(ValueError):
        fi.blend(a, b, 1.5)
    with pytest.raises(ValueError):
        fi.blend(a, b[:1], 0.5)


# --------------------------------------------------------------------------- samples


def test_sample_content():
    img = fi.sample_content()
    check_rgb8(img, (512, 512, 3))
    assert img.std() > 30  # a real photo, not a blank
    np.testing.assert_array_equal(img, fi.sample_content())


def test_sample_style():
    style = fi.sample_style(96)
    check_rgb8(style, (96, 96, 3))
    np.testing.assert_array_equal(style, fi.sample_style(96))
    big = fi.sample_style()
    check_rgb8(big, (512, 512, 3))
    # Colourful: strong saturation on average; textured: large pixel-to-pixel differences.
    saturation = big.max(axis=2).astype(int) - big.min(axis=2)
    assert saturation.mean() > 80
    assert np.abs(np.diff(big.astype(int), axis=1)).mean() > 5
    assert len(np.unique(style.reshape(-1, 3), axis=0)) > 3000
