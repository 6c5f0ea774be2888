"""Serve this folder on http://127.0.0.1:8000/ with the headers that WASM threads need (Python stdlib only).

    python serve.py [--port 8000] [--host 127.0.0.1]

onnxruntime-web runs on several threads only in a cross-origin isolated page (it needs
SharedArrayBuffer), and a page is isolated only when its server sends two headers:
``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy: require-corp``.
This server sends them. Any other static host works too (``python -m http.server``), without
them the page runs on one thread. ``--port 0`` picks a free port; the first line printed is the URL.
"""

import argparse
import functools
import http.server
from pathlib import Path


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with cross-origin isolation headers and JavaScript/WASM content types."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                      ".onnx": "application/octet-stream"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_request(self, code="-", size="-"):  # quiet: failed requests only
        if str(getattr(code, "value", code)).startswith(("4", "5")):
            super().log_request(code, size)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Serve this folder with COOP/COEP headers (WASM threads).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent
    handler = functools.partial(IsolatedHandler, directory=str(root))
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as server:
        host, port = server.server_address[:2]
        print(f"http://{host}:{port}/ (serving {root}; Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
