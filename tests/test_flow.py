"""Optical flow, warping, occlusion masks, the warping-error metric and the Stabilizer, on synthetic clips."""

import cv2
import numpy as np
import pytest

from fastnst.errors import UserError
from fastnst.flow import Stabilizer, WarpingError, consistency_mask, optical_flow, warp, warping_error

H, W = 96, 128


def texture(h=H + 64, w=W + 128, seed=0):
    """A smooth random colour texture, uint8 RGB, using the full range."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    t = (t - t.min()) / (t.max() - t.min())
    return (t * 255).round().astype(np.uint8)


def pan(n=6, step=(2, 1), seed=0):
    """Frames of a camera panning over a texture: frame t is the crop at offset t * step (dx, dy)."""
    tex = texture(seed=seed)
    return [np.ascontiguousarray(tex[t * step[1]: t * step[1] + H, t * step[0]: t * step[0] + W]) for t in range(n)]


def flicker(frames, sigma=25.0, seed=1):
    """'Stylized' frames: the frames plus per-frame blotchy noise, like a per-frame style network's flicker."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        noise = cv2.resize(rng.normal(0, sigma, (H // 8, W // 8, 3)).astype(np.float32), (W, H),
                           interpolation=cv2.INTER_CUBIC)
        out.append(np.clip(f + noise, 0, 255).astype(np.uint8))
    return out


# ----------------------------------------------------------------------------- flow and warp


def test_optical_flow_recovers_a_known_shift():
    tex = texture()
    a = tex[20:20 + H, 30:30 + W]
    b = tex[22:22 + H, 27:27 + W]  # a(p) = b(p + (3, -2))
    for kw in ({}, {"max_side": 64}):
        flow = optical_flow(a, b, **kw)
        assert flow.shape == (H, W, 2) and flow.dtype == np.float32
        inner = flow[12:-12, 12:-12]
        assert np.allclose(np.median(inner.reshape(-1, 2), axis=0), (3, -2), atol=0.25), kw
        assert np.mean(np.abs(inner - (3, -2)) < 0.5) > 0.9, kw


def test_optical_flow_of_identical_frames_is_zero():
    a = texture()[:H, :W]
    assert np.abs(optical_flow(a, a)).max() < 1e-3


def test_warp_with_a_constant_integer_flow_is_a_shift():
    img = texture()[:H, :W]
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2, 1  # out(y, x) = img(y + 1, x + 2)
    out = warp(img, flow)
    assert out.dtype == np.uint8 and out.shape == img.shape
    rolled = np.roll(img, (-1, -2), axis=(0, 1))
    assert np.array_equal(out[:-1, :-2], rolled[:-1, :-2])
    assert np.array_equal(out[:-1, -1], img[1:, -1])  # past the right edge: the border replicated


def test_warp_half_pixel_flow_averages_neighbours_and_keeps_float():
    img = np.arange(H * W, dtype=np.float32).reshape(H, W)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = 0.5
    out = warp(img, flow)
    assert out.dtype == np.float32
    assert np.allclose(out[:, :-1], (img[:, :-1] + img[:, 1:]) / 2, atol=1e-3)
    assert np.array_equal(img, np.arange(H * W, dtype=np.float32).reshape(H, W))  # input untouched


def test_warp_rejects_a_flow_of_the_wrong_size():
    with pytest.raises(ValueError):
        warp(np.zeros((H, W, 3), np.uint8), np.zeros((H, W + 1, 2), np.float32))


def test_bad_frames_are_user_errors():
    frame = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(UserError, match=r"^frames: expected a uint8 array .* got float32"):
        optical_flow(frame.astype(np.float32), frame)
    with pytest.raises(UserError, match=r"^frames: expected .* got uint8 \(96, 128, 2\)"):
        optical_flow(frame, frame[..., :2])
    assert optical_flow(frame[..., 0], np.dstack([frame, frame[..., :1]])).shape == (H, W, 2)  # grey, RGBA
    with pytest.raises(UserError, match=r"^stylized frame: expected .* got uint8 \(96, 128\)"):
        Stabilizer(0.5)(frame, frame[..., 0])


def test_max_side_only_shrinks():
    a, b = pan(2)
    assert np.array_equal(optical_flow(a, b, max_side=4 * W), optical_flow(a, b))  # frames are never enlarged


# ----------------------------------------------------------------------------- consistency


def moving_square(x0):
    """A textured square (rows 30..70, columns x0..x0+40) on a static textured background."""
    frame = texture(seed=0)[:H, :W].copy()
    frame[30:70, x0:x0 + 40] = texture(seed=5)[:40, :40]
    return frame


def test_consistency_mask_flags_a_region_revealed_by_occlusion():
    # Frame t-1: square at x 40..80; frame t: it moved 8 px right, revealing background at x 40..48.
    prev, cur = moving_square(40), moving_square(48)
    # Exact flows t -> t-1 and t-1 -> t.
    fwd = np.zeros((H, W, 2), np.float32)
    fwd[30:70, 48:88, 0] = -8
    bwd = np.zeros((H, W, 2), np.float32)
    bwd[30:70, 40:80, 0] = 8
    mask = consistency_mask(fwd, bwd)
    assert mask.dtype == bool and mask.shape == (H, W)
    assert not mask[32:68, 40:48].any()  # revealed at t: not visible at t-1
    assert mask[32:68, 52:84].all()  # the square itself: consistent
    assert mask[:25].all() and mask[75:].all()  # static background far from the square
    # The same with DIS flows: most of the revealed strip flagged, most of the background kept.
    fwd, bwd = optical_flow(cur, prev), optical_flow(prev, cur)
    mask = consistency_mask(fwd, bwd)
    assert (~mask[32:68, 40:48]).mean() > 0.6
    assert mask[:12].mean() > 0.95 and mask[86:].mean() > 0.95  # DIS smears a few pixels around the square


def test_consistency_mask_flags_pixels_that_leave_the_frame():
    fwd = np.full((H, W, 2), (-3, 0), np.float32)  # everything came from 3 px to the left
    bwd = np.full((H, W, 2), (3, 0), np.float32)
    mask = consistency_mask(fwd, bwd)
    assert not mask[:, :3].any() and mask[:, 3:].all()


# ----------------------------------------------------------------------------- warping error


def test_warping_error_of_a_static_clip_is_zero():
    frame = texture()[:H, :W]
    styled = texture(seed=3)[:H, :W]
    assert warping_error([frame] * 4, [styled] * 4) == 0.0


def test_warping_error_of_a_pure_shift():
    frames = pan()
    # Outputs that move with the input (a perfectly stable "stylization"): near zero.
    assert warping_error(frames, frames) < 2e-4
    # Outputs that stay put while the input pans: large.
    assert warping_error(frames, [frames[0]] * len(frames)) > 20 * warping_error(frames, frames)
    # The same at the level of one warp: the correct flow aligns, a wrong one does not.
    right = np.full((H, W, 2), (2, 1), np.float32)  # frame t at p = frame t-1 at p + (2, 1)
    wrong = np.full((H, W, 2), (-2, -1), np.float32)

    def err(flow):
        return np.mean((warp(frames[0], flow)[8:-8, 8:-8] / 255.0 - frames[1][8:-8, 8:-8] / 255.0) ** 2)

    assert err(right) < 1e-6 and err(wrong) > 1e-3


def test_warping_error_streaming():
    frames = pan(4)
    styled = flicker(frames)
    metric = WarpingError()
    assert np.isnan(metric.value) and metric.frames == 0
    errs = [metric.update(a, b) for a, b in zip(frames, styled)]
    assert np.isnan(errs[0]) and all(e > 0 for e in errs[1:])
    assert metric.frames == 4 and metric.pairs == 3
    assert metric.value == pytest.approx(np.mean(errs[1:]))
    assert metric.value == pytest.approx(warping_error(frames, styled))
    metric.update(frames[0][:64, :64], styled[0][:64, :64])  # a size change starts over: not counted
    assert metric.pairs == 3 and metric.frames == 5
    with pytest.raises(ValueError):
        warping_error(frames, styled[:-1])


# ----------------------------------------------------------------------------- stabilizer


def test_stabilizer_lowers_the_warping_error_of_flicker():
    frames = pan(8)
    styled = flicker(frames)
    stab = Stabilizer(0.6)
    out = [stab(f, s) for f, s in zip(frames, styled)]
    assert out[0] is not styled[0] and np.array_equal(out[0], styled[0])  # first frame passes through, copied
    assert all(o.dtype == np.uint8 and o.shape == (H, W, 3) for o in out)
    before, after = warping_error(frames, styled), warping_error(frames, out)
    assert after < before / 2, (before, after)
    assert stab.cuts == 0


def test_stabilizer_passes_through_when_off_after_cuts_size_changes_and_reset():
    frames = pan(3)
    styled = flicker(frames)
    off = Stabilizer(0.0)
    assert all(np.array_equal(off(f, s), s) for f, s in zip(frames, styled))
    stab = Stabilizer(0.8)
    stab(frames[0], styled[0])
    assert not np.array_equal(stab(frames[1], styled[1]), styled[1])  # blended
    other = texture(seed=9)[:H, :W]  # an unrelated shot: a cut
    assert np.array_equal(stab(other, styled[2]), styled[2]) and stab.cuts == 1
    small = frames[0][:64, :80]
    assert np.array_equal(stab(small, small), small)  # a size change
    stab.reset()
    assert np.array_equal(stab(frames[1], styled[1]), styled[1])
    with pytest.raises(UserError):
        Stabilizer(1.5)


def test_stabilizer_leaves_no_ghost_where_the_stylized_frame_changes():
    frames = pan(4)
    stab = Stabilizer(0.9)
    grey = [np.full((H, W, 3), 40, np.uint8)] * 3
    for f, s in zip(frames[:3], grey):
        stab(f, s)
    changed = np.full((H, W, 3), 40, np.uint8)
    changed[20:60, 30:90] = 240  # the style changed here: the history must not be blended in
    out = stab(frames[3], changed)
    assert np.array_equal(out[24:56, 34:86], changed[24:56, 34:86])
    assert np.abs(out[70:, :].astype(int) - 40).max() <= 1  # agreeing areas stay as they were


def test_stabilizer_does_not_modify_its_inputs():
    frames = pan(2)
    styled = flicker(frames)
    copies = [a.copy() for a in frames + styled]
    stab = Stabilizer(0.5)
    for f, s in zip(frames, styled):
        stab(f, s)
    assert all(np.array_equal(a, b) for a, b in zip(frames + styled, copies))
