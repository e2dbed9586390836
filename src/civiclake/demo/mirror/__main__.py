"""Run the mirror in the foreground: ``python -m civiclake.demo.mirror --port 8765``."""

from __future__ import annotations

import argparse
import signal
import threading

from civiclake.demo.mirror.server import MirrorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the offline data.gouv.fr mirror until interrupted.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every answer waits (a distant server)")
    parser.add_argument("--synthetic", type=int, default=0, help="also serve this many synthetic datasets")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic datasets")
    args = parser.parse_args(argv)
    if args.delay < 0:
        parser.error(f"--delay must be zero or positive, got {args.delay}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with MirrorServer(port=args.port, delay=args.delay) as mirror:
        mirror.add_synthetic_catalogue(args.synthetic, args.seed)
        print(f"CIVICLAKE__DATAGOUV__API_URL={mirror.api_url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
