"""The web app's WebRTC live video (fastnst.webrtc): an aiortc client against the server, and a real browser.

Without a browser, an aiortc peer in this process plays the page: it sends a synthetic camera
track through the signalling route and reads the stylized track back. The browser test drives
headless Chromium with the fake camera of tests/fakecam.py (see tests/test_webapp.py). Both
skip with a reason where aiortc (or Chromium and playwright) is missing.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fastnst.config import DemoConfig

import fakecam
from helpers import free_port, new_live_frames, served_demo

pytest.importorskip("aiortc", reason="needs aiortc (a base dependency: pip install -e .)")

CLIP_FRAMES, CLIP_FPS = 90, 30




def _webrtc_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fastnst-webrtc")]


def _wait(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture(scope="module")
def live_demo(lite_onnx):
    """The app with one live connection allowed, on a free loopback port."""
    with served_demo([lite_onnx], max_live=1) as d:
        yield d


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _camera_track():
    """A synthetic 160x120 camera: fakecam's moving picture with a frame counter, 30 frames/s."""
    import av
    from aiortc import VideoStreamTrack

    class Camera(VideoStreamTrack):
        def __init__(self):
            super().__init__()
            self.sent = []

        async def recv(self):
            pts, time_base = await self.next_timestamp()
            rgb = fakecam.frame(len(self.sent) % CLIP_FRAMES, 160, 120, CLIP_FRAMES)
            self.sent.append(rgb)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    return Camera()


async def _client_session(url: str, settings: dict, frames: int, while_open=None):
    """Connect to the route at ``url`` as a page would; return the first ``frames`` frames received (RGB)."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from fastnst.webrtc import rtc_configuration

    pc = RTCPeerConnection(rtc_configuration())
    camera = _camera_track()
    pc.addTrack(camera)
    channel = pc.createDataChannel("settings")
    received: asyncio.Queue = asyncio.Queue()

    @pc.on("track")
    def on_track(track):
        async def read():
            while True:
                received.put_nowait((await track.recv()).to_ndarray(format="rgb24"))
        asyncio.ensure_future(read())

    await pc.setLocalDescription(await pc.createOffer())
    status, answer = await asyncio.to_thread(_post, url, {"sdp": pc.localDescription.sdp, "type": "offer",
                                                          "settings": settings})
    assert status == 200, answer
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    out = [await asyncio.wait_for(received.get(), 60) for _ in range(frames)]
    extra = await while_open(channel, received) if while_open else None
    await pc.close()
    return out, camera.sent, extra


def test_offline_by_default():
    """No STUN/TURN server unless configured (aiortc's own default is a public STUN server)."""
    from fastnst.webrtc import rtc_configuration

    assert rtc_configuration().iceServers == []
    assert [s.urls for s in rtc_configuration(["stun:example.org:3478"]).iceServers] == ["stun:example.org:3478"]
    assert DemoConfig().ice_servers == () and DemoConfig().max_live >= 1


def test_live_encoder_runs_at_its_bit_rate():
    """LiveEncoder: the codec runs at the bit rate given and the packets take about that rate for a picture
    that needs more (constant bit rate); more bits bring the decoded frames closer (3 Mbit/s against aiortc's
    0.5 start); each packet keeps its frame's timestamp; the first packet is a key frame, and then one every
    ``keyframe_every`` seconds of the time stamps."""
    import av
    import cv2

    from fastnst.errors import UserError
    from fastnst.webrtc import LiveEncoder

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (480, 720, 3), dtype=np.uint8), (0, 0), 1.0)
    frames = [np.ascontiguousarray(texture[:, 2 * i:2 * i + 640]) for i in range(40)]  # panning, 25 frames/s

    def run(bitrate: float, keyframe_every: float = 1e9):
        encoder, decoder = LiveEncoder(bitrate, keyframe_every), av.CodecContext.create("libvpx", "r")
        size, keys, errors = 0, [], []
        for i, picture in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i * 3600, Fraction(1, 90000)
            packet = encoder.encode(frame)
            assert (packet.pts, packet.time_base) == (frame.pts, frame.time_base)
            size, keys = size + packet.size, keys + [packet.is_keyframe]
            errors += [np.mean((d.to_ndarray(format="rgb24").astype(np.float64) - picture) ** 2)
                       for d in decoder.decode(packet)]
        psnr = 10 * np.log10(255 ** 2 / np.mean(errors[-20:]))
        return encoder.codec.bit_rate, size * 8 / (len(frames) / 25), psnr, keys

    low, high = run(0.5e6), run(3e6)
    for (rate, sent, _, keys), given in ((low, 0.5e6), (high, 3e6)):
        assert rate == given and 0.7 * given < sent < 1.2 * given, (rate, sent)
        assert keys[0] and not any(keys[1:])
    assert high[2] > low[2] + 2, (low[2], high[2])
    assert all(run(1e6, keyframe_every=0)[3])  # every frame a key frame
    keys = run(1e6, keyframe_every=0.5)[3]  # by the frames' time stamps, 25 a second
    assert [i for i, key in enumerate(keys) if key] == [0, 13, 26, 39]
    with pytest.raises(ValueError):
        LiveEncoder(0)
    with pytest.raises(UserError, match="--live-bitrate"):
        DemoConfig(live_bitrate=-1).validate()


@pytest.mark.slow
def test_live_frames_cap_and_cleanup(live_demo):
    """Stylized frames come back; the cap answers 503 with a message; closing leaves no peer or thread."""
    url = live_demo.blocks.local_url + "webrtc/offer"
    assert _post(url, {"type": "offer"})[0] == 400  # malformed, and nothing counted
    assert len(live_demo.live.peers) == 0
    threads_before = threading.active_count()

    async def while_open(channel, received):
        (peer,) = live_demo.live.peers  # it sends VP8 at the app's live_bitrate, from its own encoder
        assert peer.track.encoder.codec.bit_rate == live_demo.options.live_bitrate * 1e6 > 0
        video = peer.pc.localDescription.sdp.split("m=video")[1].split("m=")[0]
        assert {line.split()[1].split("/")[0] for line in video.splitlines()
                if line.startswith("a=rtpmap:")} == {"VP8", "rtx"}, video
        at_cap = await asyncio.to_thread(_post, url, {"type": "offer", "sdp": "x"})
        channel.send(json.dumps({"style": "test", "strength": 0.0}))  # a live change of strength
        for _ in range(60):
            frame = await asyncio.wait_for(received.get(), 60)
            if np.abs(frame.astype(np.int16) - fakecam.frame(fakecam.read_counter(frame), 160, 120)).mean() < 12:
                return at_cap, frame
        return at_cap, None

    out, sent, (at_cap, plain) = asyncio.run(_client_session(url, {"style": "test", "strength": 1.0}, 6, while_open))
    assert all(f.shape == (120, 160, 3) for f in out)
    assert sum(np.abs(a.astype(np.int16) - b).mean() > 1.0 for a, b in zip(out, out[1:])) >= len(out) - 2
    nearest = [min(np.abs(f.astype(np.int16) - s).mean() for s in sent) for f in out]
    assert min(nearest) > 30, nearest  # stylized: far from every camera frame sent
    assert at_cap[0] == 503 and "1 live connection" in at_cap[1]["error"], at_cap
    assert plain is not None, "strength 0 never brought the camera frame back"
    assert _wait(lambda: not live_demo.live.peers), live_demo.live.peers
    assert _wait(lambda: not _webrtc_threads()), _webrtc_threads()
    assert threading.active_count() <= threads_before + 2  # at most the event loop's executor threads


@pytest.mark.slow
def test_a_new_mix_mid_stream_changes_the_frames_on_the_same_connection(mix_onnx):
    """The mix goes over the data channel: the same peer and FrameStylizer (no new connection, no reset)
    send frames of the new blend."""
    from fastnst.runtime import Stylizer

    with served_demo([f"a@{mix_onnx}", f"b@{mix_onnx}"]) as demo:
        url = demo.blocks.local_url + "webrtc/offer"
        refs = {}
        for mix in (0.0, 1.0):  # the camera's frames stylized with each blend, as the server does
            s = Stylizer(mix_onnx, device="cpu", blend={"a": 1 - mix, "b": mix})
            refs[mix] = np.stack([s.stylize(fakecam.frame(i, 160, 120, CLIP_FRAMES), max_side=demo.stream_max_side)
                                  for i in range(CLIP_FRAMES)]).astype(np.int16)

        def nearest(frame, mix):
            return float(np.abs(refs[mix] - frame).mean(axis=(1, 2, 3)).min())

        async def while_open(channel, received):
            (peer,) = demo.live.peers
            live, frames = peer.live, peer.live.frames
            channel.send(json.dumps({"style": "a", "mix_style": "b", "mix": 1.0}))  # a live change of mix
            for _ in range(60):
                frame = await asyncio.wait_for(received.get(), 60)
                if nearest(frame, 1.0) < nearest(frame, 0.0) - 5:
                    break
            else:
                frame = None
            return (peer, live, frames), set(demo.live.peers), frame

        out, _, ((peer, live, frames), peers, mixed) = asyncio.run(
            _client_session(url, {"style": "a", "mix_style": "b", "mix": 0.0}, 6, while_open))
        assert all(nearest(f, 0.0) < nearest(f, 1.0) - 5 for f in out), [(nearest(f, 0), nearest(f, 1)) for f in out]
        assert mixed is not None, "the new mix never reached the frames"
        assert peers == {peer} and peer.live is live and live.frames > frames  # the same connection and stream
        assert live.blend == {"a": 0.0, "b": 1.0} and "a:0,b:1 (lite)" in peer.description
        assert _wait(lambda: not demo.live.peers), demo.live.peers


# ----------------------------------------------------------------------------- in a real browser


@pytest.mark.browser
@pytest.mark.slow
def test_browser_live_video(lite_onnx, tmp_path):
    from fastnst.webapp import Demo

    clip_frames = np.stack([fakecam.frame(i, 320, 240, CLIP_FRAMES) for i in range(CLIP_FRAMES)]).astype(np.int16)
    demo = Demo([lite_onnx], device="cpu")
    demo.launch("127.0.0.1", free_port(), block=False, quiet=True)
    try:
        with fakecam.camera_browser(tmp_path, frames=CLIP_FRAMES, fps=CLIP_FPS) as context:
            outside = context.outside
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(demo.blocks.local_url, wait_until="load")
            page.locator("#webrtc button.start").click()
            page.wait_for_function("() => document.querySelector('#webrtc video.live').videoWidth > 0")

            # Fresh stylized frames arrive, change, and are not the camera picture.
            frames = new_live_frames(page, 6)
            assert all(f.shape == (240, 320, 3) for f in frames)
            changes = [np.abs(a.astype(np.int16) - b).mean() for a, b in zip(frames, frames[1:])]
            assert sum(c > 1.0 for c in changes) >= len(changes) - 1, changes
            nearest = [np.abs(clip_frames - f).mean(axis=(1, 2, 3)).min() for f in frames]
            assert min(nearest) > 30, nearest
            assert len(demo.live.peers) == 1
            # the status line, once the server's first report (every second, over the data channel) is in
            page.wait_for_function(r"() => /[\d.]+ frames\/s shown · server \d+ ms/"
                                   r".test(document.querySelector('#webrtc .status').textContent)", timeout=30_000)

            # Strength 0 mid-stream (the Gradio slider, sent over the data channel): the camera frame comes back.
            box = page.locator("#webcam-strength input[type=number]")
            box.fill("0")
            box.press("Enter")
            deadline, diff = time.monotonic() + 30, None
            while time.monotonic() < deadline:
                f = new_live_frames(page, 1)[0]
                diffs = np.abs(clip_frames - f).mean(axis=(1, 2, 3))
                index, diff = int(np.argmin(diffs)), float(diffs.min())
                if diff < 12:
                    break
            assert diff < 12, diff  # within VP8's loss
            assert fakecam.read_counter(f) == index  # exactly that camera frame, not mirrored
            assert outside == [], outside

            # The page closes: the server's connection, its thread and its tracks go.
            page.close()
            assert _wait(lambda: not demo.live.peers, 40), demo.live.peers
            assert _wait(lambda: not _webrtc_threads()), _webrtc_threads()
    finally:
        demo.blocks.close()


@pytest.mark.browser
@pytest.mark.slow
def test_browser_live_picture_is_as_sharp_as_a_still(tmp_path):
    """Issue 22: the camera is a still at 640x480, so every camera frame is one picture, and each frame the
    page shows may be set beside the same network run on that picture at full size (as ``fastnst stylize``
    runs it): PSNR >= 30 dB with the CPU defaults (at the 384 px working size of before: 21 dB, see
    benchmarks/live_quality.py, which also splits the loss between working size and encoder)."""
    import cv2

    from fastnst.image import sample_content
    from fastnst.runtime import Stylizer
    from fastnst.webapp import Demo

    style = Path(__file__).resolve().parents[1] / "fastnst" / "pretrained" / "wave_lite.onnx"
    picture = cv2.resize(sample_content(), (640, 480), interpolation=cv2.INTER_AREA)
    camera = cv2.cvtColor(cv2.cvtColor(picture, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)  # as the clip has it
    still = Stylizer(style, device="cpu").stylize(camera).astype(np.float64)
    demo = Demo([str(style)], device="cpu")
    demo.launch("127.0.0.1", free_port(), block=False, quiet=True)
    try:
        with fakecam.camera_browser(tmp_path, frames=30, still=camera) as context:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(demo.blocks.local_url, wait_until="load")
            page.locator("#webrtc button.start").click()
            page.wait_for_function("() => document.querySelector('#webrtc video.live').videoWidth > 0")
            time.sleep(5)  # the first frames: the browser's camera encoder starts low
            frames = new_live_frames(page, 3)
            assert all(f.shape == (480, 640, 3) for f in frames)
            psnr = [10 * np.log10(255 ** 2 / np.mean((f - still) ** 2)) for f in frames]
            assert np.median(psnr) >= 30, psnr
    finally:
        demo.blocks.close()
