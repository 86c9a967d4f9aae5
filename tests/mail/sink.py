#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for Colloquy's tests and mail benchmark.

Usage: sink.py --port PORT --dir DIR [--reject-domain DOMAIN]
Every accepted message is written to DIR as NNNNNN.eml, with its envelope recipients in an
X-Sink-Rcpt header line first. Recipients at --reject-domain are refused with 550 (a
permanent failure). The server runs until it is killed; it prints "ready" once listening.
"""
import argparse
import asyncio
import itertools
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, reject_domain):
        self.directory = directory
        self.reject = reject_domain
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and address.lower().endswith("@" + self.reject):
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        path = os.path.join(self.directory, "%06d.eml" % n)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"X-Sink-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, path)
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reject-domain", default="")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    c = Controller(Sink(a.dir, a.reject_domain.lower()), hostname="127.0.0.1", port=a.port)
    c.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    loop.run_until_complete(stop.wait())
    c.stop()


if __name__ == "__main__":
    sys.exit(main())
