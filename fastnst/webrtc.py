"""The web app's live video over WebRTC (aiortc): the browser's camera in, its stylized video back (torch-free).

This module owns the server side of the Webcam tab's live path: the signalling route (one
POST on the web app's own server that takes the page's SDP offer and returns the answer),
one :class:`LivePeer` per browser connection (its ``RTCPeerConnection``, the stylized track
sent back, the inference thread and the settings the page sends over a data channel), the
cap on peers at once, and closing all of it when the page goes away (or the connection
fails). The page's side is ``fastnst/live_page/live.js``.

    >>> server = LiveServer(configure, max_side=384, max_peers=4)
    >>> server.mount(fastapi_app, "/webrtc/offer")     # POST {sdp, type, settings} -> {sdp, type}

``configure(settings)`` turns the page's settings (``{"style", "strength", "preserve_color",
"stabilize", "mix_style", "mix"}``: the last two a second style of the same multi-style network
and its weight) into (:meth:`fastnst.stream.FrameStylizer.update` keywords, a description
for the page); it runs on the peer's inference thread, so it may load a model. Settings arrive
over the data channel while the connection stays up: a new mix is a new ``blend`` for the
peer's FrameStylizer, which runs it on a copy of its own (other peers keep theirs) and keeps
the stabilizer's history, as for strength.

Frames: aiortc decodes the browser's track into ``av.VideoFrame``; the newest one (stale ones
are dropped, :class:`fastnst.stream.LatestFrame`, so latency stays one inference) becomes a
uint8 RGB (H, W, 3) array, goes through the peer's :class:`fastnst.stream.FrameStylizer`, and
comes back, same size, as a ``VideoFrame`` with the camera frame's timestamp.

Encoding: with ``bitrate`` (the web app's ``live_bitrate``), the stylized track is VP8 from a
:class:`LiveEncoder` of this module at that fixed rate: the track hands aiortc encoded
``av.Packet`` objects, which its sender only packetizes (``MediaStreamTrack.recv`` may return
frames or packets), and the peer's video is negotiated as VP8 only
(``RTCRtpTransceiver.setCodecPreferences``). aiortc's own encoder starts at 0.5 Mbit/s and
follows the browser's estimate up to a hard-coded 1.5 Mbit/s: too little for painted texture
at 640x480, whose live picture then shows streaks and blocks a still does not have
(benchmarks/live_quality.py measures both). Without ``bitrate`` (0 or None) aiortc encodes.

No STUN or TURN server is contacted unless ``ice_servers`` names one: aiortc's default (a
public STUN server) is replaced by an empty list. The server offers its host candidates;
a browser reaches one of them, so its own (possibly mDNS ``.local``) candidates need not
resolve.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from .stream import FrameStylizer, LatestFrame

__all__ = ["LiveEncoder", "LivePeer", "LiveServer", "PeerLimit"]

STATUS_EVERY = 1.0  # seconds between status messages to the page
KEYFRAME_EVERY = 4.0  # seconds between the LiveEncoder's key frames


class LiveEncoder:
    """VP8 at a fixed bit rate for the stylized video: ``encode(frame)`` -> one ``av.Packet`` (or None).

    ``bitrate``: bits per second. The rate control is aiortc's own encoder's (libvpx, real time,
    constant bit rate over a one-second buffer, no frames held back), at ``bitrate`` instead of
    aiortc's 0.25 to 1.5 Mbit/s. A packet carries its frame's timestamp (``pts``, ``time_base``).

    Key frames: the first, one every ``keyframe_every`` seconds of the frames' time stamps (and after
    a jump back in them) and after a change of size. aiortc
    passes a browser's key-frame request (PLI) only to its own encoder, so a picture broken by a
    lost packet that retransmission did not recover mends at the next periodic key frame.
    """

    def __init__(self, bitrate: float, keyframe_every: float = KEYFRAME_EVERY):
        if not bitrate > 0:
            raise ValueError(f"bitrate must be positive, got {bitrate}")
        self.bitrate, self.keyframe_every = int(bitrate), float(keyframe_every)
        self.codec = None  # av's libvpx encoder, opened at the first frame's size
        self._keyframe_at: float | None = None  # the last key frame's time stamp, seconds

    def _open(self, width: int, height: int, time_base):
        import av

        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt, codec.time_base = width, height, "yuv420p", time_base
        codec.bit_rate, codec.gop_size, codec.qmin, codec.qmax = self.bitrate, 1 << 30, 2, 56
        rate = str(self.bitrate)
        codec.options = {"bufsize": rate, "minrate": rate, "maxrate": rate,  # CBR over a 1 s buffer
                         "deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0", "noise-sensitivity": "4",
                         "overshoot-pct": "15", "undershoot-pct": "100", "static-thresh": "1", "partitions": "0"}
        codec.thread_count = 1  # the stylizer has the other cores
        return codec

    def encode(self, frame):
        """The VP8 packet of ``frame`` (an av.VideoFrame with ``pts`` and ``time_base``), or None."""
        import av

        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        now = float(frame.pts * frame.time_base)  # the camera's clock: the same key frames at any speed
        if self.codec is None or (self.codec.width, self.codec.height) != (frame.width, frame.height):
            self.codec, self._keyframe_at = self._open(frame.width, frame.height, frame.time_base), None
        if self._keyframe_at is None or not 0 <= now - self._keyframe_at < self.keyframe_every:
            frame.pict_type, self._keyframe_at = av.video.frame.PictureType.I, now
        packets = self.codec.encode(frame)
        if not packets:
            return None
        packet = packets[0]  # lag-in-frames 0: one packet per frame
        packet.pts, packet.time_base = frame.pts, frame.time_base
        return packet


def vp8_codecs() -> list:
    """aiortc's VP8 codec capabilities (and their retransmission, rtx), for ``setCodecPreferences``."""
    from aiortc import RTCRtpSender

    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]


class PeerLimit(Exception):
    """The server already serves its ``max_peers`` live connections."""


def rtc_configuration(ice_servers=()):
    """An ``RTCConfiguration`` with exactly ``ice_servers`` (URLs like ``stun:host:3478``): none by default."""
    from aiortc import RTCConfiguration, RTCIceServer

    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in ice_servers])


def _stylized_track_class():
    """The ``MediaStreamTrack`` subclass that sends a peer's results (aiortc imported on first use)."""
    from aiortc import MediaStreamError, MediaStreamTrack

    class StylizedTrack(MediaStreamTrack):
        """The video sent back: the newest stylized frame, each one once (as a VP8 packet with ``encoder``)."""

        kind = "video"

        def __init__(self, encoder: LiveEncoder | None = None):
            super().__init__()
            self.encoder = encoder
            self._frame = None
            self._ready = asyncio.Event()

        def deliver(self, frame) -> None:
            """Offer ``frame`` (an av.VideoFrame) as the next one to send; called on the event loop."""
            self._frame = frame
            self._ready.set()

        def stop(self) -> None:
            super().stop()
            self._ready.set()  # wakes recv(), which then ends

        async def recv(self):
            while True:
                await self._ready.wait()
                self._ready.clear()
                if self.readyState != "live" or self._frame is None:
                    raise MediaStreamError
                frame, self._frame = self._frame, None
                if self.encoder is None:
                    return frame
                # off the event loop, as aiortc runs its own encoder; one at a time (the sender awaits each)
                packet = await asyncio.get_running_loop().run_in_executor(None, self.encoder.encode, frame)
                if packet is not None:
                    return packet

    return StylizedTrack


class LivePeer:
    """One browser connection: its peer connection, stylized track, inference thread and settings.

    Camera frames are decoded on aiortc's side and handed to ``frames`` (a LatestFrame:
    only the newest waits); the thread ``fastnst-webrtc-N`` stylizes them with ``live``
    and hands each result to the track on the event loop. ``settings`` from the page are
    applied by that thread before its next frame.
    """

    def __init__(self, server: LiveServer, pc, number: int):
        self.server, self.pc, self.number = server, pc, number
        self.loop = asyncio.get_running_loop()
        self.frames = LatestFrame()
        self.track = _stylized_track_class()(LiveEncoder(server.bitrate) if server.bitrate else None)
        self.live: FrameStylizer | None = None
        self.description = ""
        self.channel = None
        self._settings: dict | None = None  # the page's newest settings, not applied yet
        self._settings_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pump: asyncio.Task | None = None
        self._last_status = 0.0
        self.closed = False

    # ------------------------------------------------------------------ event loop side

    def set_settings(self, settings: dict) -> None:
        with self._settings_lock:
            self._settings = dict(settings)

    def on_message(self, message) -> None:
        """A data channel message from the page: new settings (JSON), applied before the next frame."""
        try:
            settings = json.loads(message)
        except (TypeError, ValueError):
            return
        if isinstance(settings, dict):
            self.set_settings(settings)

    def attach(self, source) -> None:
        """Start stylizing the browser's video track ``source``."""
        self._thread = threading.Thread(target=self._run, name=f"fastnst-webrtc-{self.number}", daemon=True)
        self._thread.start()
        self._pump = asyncio.ensure_future(self._receive(source))

    async def _receive(self, source) -> None:
        """Camera frames into ``frames`` (as (frame, arrival time)) until the browser's track ends."""
        from aiortc import MediaStreamError

        try:
            while True:
                frame = await source.recv()
                self.frames.put((frame, time.perf_counter()))
        except MediaStreamError:
            pass
        finally:
            self.frames.close()

    def _deliver(self, frame) -> None:
        """On the event loop: send ``frame`` and, once a second, the timing to the page."""
        if self.closed:
            return
        self.track.deliver(frame)
        now = time.perf_counter()
        if self.channel is not None and self.channel.readyState == "open" and now - self._last_status >= STATUS_EVERY:
            self._last_status = now
            self._send({"fps": round(self.live.timing.fps, 1), "latency_ms": round(self.live.timing.latency_ms),
                        "width": frame.width, "height": frame.height, "model": self.description})

    def _send(self, message: dict) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    async def close(self) -> None:
        """Stop the thread and the tracks, close the peer connection and leave the server's count."""
        if self.closed:
            return
        self.closed = True
        self.frames.close()
        self.track.stop()
        if self._pump is not None:
            self._pump.cancel()
        await self.pc.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self.server.peers.discard(self)

    # ------------------------------------------------------------------ inference thread

    def _apply_settings(self) -> None:
        with self._settings_lock:
            settings, self._settings = self._settings, None
        if settings is None:
            return
        try:
            update, self.description = self.server.configure(settings)
        except Exception as e:  # e.g. an unknown style: say so in the page (a gr.Error: its message, unquoted),
            # keep the old settings
            self.loop.call_soon_threadsafe(self._send, {"error": getattr(e, "message", None) or str(e)})
            return
        if self.live is None:
            self.live = FrameStylizer(**{"max_side": self.server.max_side, **update})  # the page may set max_side
        else:
            self.live.update(**update)

    def _run(self) -> None:
        """Stylize the newest camera frame, again and again, until ``frames`` is closed."""
        import av

        while (item := self.frames.get()) is not None:
            frame, arrived = item
            self._apply_settings()
            if self.live is None:
                continue  # no usable settings yet
            out = self.live(frame.to_ndarray(format="rgb24"), started=arrived)
            result = av.VideoFrame.from_ndarray(out, format="rgb24").reformat(format="yuv420p")
            result.pts, result.time_base = frame.pts, frame.time_base
            try:
                self.loop.call_soon_threadsafe(self._deliver, result)
            except RuntimeError:  # the event loop is gone (the server stopped)
                return


class LiveServer:
    """Answers the page's offers, up to ``max_peers`` live connections at once, and tracks them.

    ``configure``: page settings -> (FrameStylizer.update keywords, description), see the
    module docstring. ``max_side``: the FrameStylizer's (frames are stylized at most at
    this long side and returned at their size). ``ice_servers``: STUN/TURN URLs (none: host
    candidates only, nothing contacted). ``bitrate``: bits per second of the video sent back,
    VP8 from a :class:`LiveEncoder` (None or 0: aiortc's own encoder).
    """

    def __init__(self, configure: Callable[[dict], tuple[dict, str]], *, max_side: int | None = None,
                 max_peers: int = 4, ice_servers=(), bitrate: float | None = None):
        self.configure, self.max_side, self.max_peers = configure, max_side, int(max_peers)
        self.bitrate = bitrate or None
        self.ice_servers = list(ice_servers)
        self.peers: set[LivePeer] = set()
        self._numbers = 0

    async def answer(self, offer: dict) -> dict:
        """The SDP answer ``{"sdp", "type"}`` to the page's ``{"sdp", "type", "settings"}``.

        Raises PeerLimit at the cap and ValueError for a malformed offer.
        """
        from aiortc import RTCPeerConnection, RTCSessionDescription

        if len(self.peers) >= self.max_peers:
            raise PeerLimit(f"the server already has {self.max_peers} live connection"
                            f"{'s' if self.max_peers != 1 else ''}; try again later (or use the Gradio stream below)")
        if offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
            raise ValueError("expected {\"type\": \"offer\", \"sdp\": ...}")
        pc = RTCPeerConnection(rtc_configuration(self.ice_servers))
        self._numbers += 1
        peer = LivePeer(self, pc, self._numbers)
        peer.set_settings(offer.get("settings") or {})
        self.peers.add(peer)
        if peer.track.encoder is not None:  # it sends VP8 packets: the video must be negotiated as VP8
            pc.addTransceiver(peer.track, direction="sendrecv").setCodecPreferences(vp8_codecs())

        @pc.on("track")
        def on_track(track):
            if track.kind == "video" and peer._thread is None:
                if not any(sender.track is peer.track for sender in pc.getSenders()):
                    pc.addTrack(peer.track)
                peer.attach(track)

        @pc.on("datachannel")
        def on_datachannel(channel):
            peer.channel = channel
            channel.on("message", peer.on_message)
            channel.on("close", lambda: asyncio.ensure_future(peer.close()))

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await peer.close()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            if peer._thread is None:
                raise ValueError("the offer has no video track")
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await peer.close()
            raise
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    async def close(self) -> None:
        """Close every live connection."""
        await asyncio.gather(*(peer.close() for peer in list(self.peers)))

    def mount(self, app, path: str) -> None:
        """Add the signalling route, ``POST path``, to the FastAPI ``app`` (503 at the cap, 400 for a bad offer)."""
        async def offer(request: Request):
            try:
                return JSONResponse(await self.answer(await request.json()))
            except PeerLimit as e:
                return JSONResponse({"error": str(e)}, status_code=503)
            except (ValueError, TypeError, AttributeError) as e:
                return JSONResponse({"error": f"bad offer: {e}"}, status_code=400)

        app.add_api_route(path, offer, methods=["POST"], include_in_schema=False)
