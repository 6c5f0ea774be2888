// The fastnst demo's live video over WebRTC (the page's side of fastnst/webrtc.py).
//
// mount(root, options) wires the buttons and <video> elements inside root: Start sends the
// camera to the server (one POST with the SDP offer, no trickle ICE), the stylized track comes
// back into root's "video.live"; settings go over a data channel; the status line shows the
// frames/s the page displays, the server's time per frame and the browser's jitter buffer.
// options: {offer: URL of the signalling route, ice_servers: [URL], settings: {style, strength,
// preserve_color, stabilize, mix_style, mix, stroke, painting}, mirror: bool}. Returns {update(settings),
// stop()}: update sends the changed settings (a new mix or painting included) over the open data channel, no new
// connection; a setting the server refuses (e.g. a painting no longer kept) is shown on the status line for 8 s.

export function mount(root, options) {
  const $ = (selector) => root.querySelector(selector);
  const live = $("video.live"), camera = $("video.camera"), status = $(".status");
  const settings = { ...options.settings };
  let pc = null, channel = null, stream = null, server = null, shown = [], timer = null;
  let error = null, errorUntil = 0;  // the server's last refusal of settings, shown for a while
  const say = (text) => { status.textContent = text; };

  function countFrames() {  // distinct frames displayed, for the frame rate
    if (!live.requestVideoFrameCallback) return;
    const tick = (now) => {
      shown.push(now);
      while (shown.length && now - shown[0] > 2000) shown.shift();
      if (pc) live.requestVideoFrameCallback(tick);
    };
    live.requestVideoFrameCallback(tick);
  }

  async function report() {
    if (!pc) return;
    const fps = shown.length > 1 ? (1000 * (shown.length - 1)) / (shown[shown.length - 1] - shown[0]) : 0;
    let buffer = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video" && s.jitterBufferEmittedCount)
        buffer = (1000 * s.jitterBufferDelay) / s.jitterBufferEmittedCount;
    });
    const parts = [`${fps.toFixed(1)} frames/s shown`];
    if (error && performance.now() < errorUntil) parts.unshift(error);
    if (server) parts.push(`server ${server.latency_ms} ms a frame`, `${server.width}x${server.height}`, server.model);
    if (buffer !== null) parts.push(`jitter buffer ${buffer.toFixed(0)} ms`);
    say(parts.join(" · "));
  }

  async function start() {
    if (pc) return;
    say("connecting…");
    try {
      stream = await navigator.mediaDevices.getUserMedia(
        { video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
      camera.srcObject = stream;
      pc = new RTCPeerConnection({ iceServers: options.ice_servers.map((urls) => ({ urls })) });
      stream.getVideoTracks().forEach((track) => pc.addTrack(track, stream));
      pc.ontrack = (event) => {
        if ("jitterBufferTarget" in event.receiver) event.receiver.jitterBufferTarget = 0;  // newest frame first
        live.srcObject = event.streams[0] || new MediaStream([event.track]);
        countFrames();
      };
      pc.onconnectionstatechange = () => {
        if (pc && ["failed", "closed"].includes(pc.connectionState)) stop(`connection ${pc.connectionState}`);
      };
      channel = pc.createDataChannel("settings");
      channel.onopen = () => channel.send(JSON.stringify(settings));
      channel.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.error) { error = message.error; errorUntil = performance.now() + 8000; say(error); }
        else server = message;
      };
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((done) => {  // all candidates in the offer: the server does not trickle
        if (pc.iceGatheringState === "complete") return done();
        pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
      });
      const response = await fetch(options.offer, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, settings }),
      });
      const answer = await response.json();
      if (!response.ok) return stop(answer.error || `the server said ${response.status}`);
      await pc.setRemoteDescription(answer);
      timer = setInterval(report, 1000);
    } catch (error) {
      stop(`no live connection: ${error.message || error}`);
    }
  }

  function stop(message = "stopped") {
    clearInterval(timer);
    if (pc) pc.close();
    if (stream) stream.getTracks().forEach((track) => track.stop());
    pc = channel = stream = server = null;
    shown = [];
    live.srcObject = camera.srcObject = null;
    say(message);
  }

  function update(changed) {
    Object.assign(settings, changed);
    if (channel && channel.readyState === "open") channel.send(JSON.stringify(settings));
  }

  if (options.mirror) live.style.transform = camera.style.transform = "scaleX(-1)";
  $("button.start").addEventListener("click", start);
  $("button.stop").addEventListener("click", () => stop());
  for (const button of root.querySelectorAll("button")) button.disabled = false;  // live from here on
  window.addEventListener("pagehide", () => stop());
  return { update, stop };
}
