#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for Colloquy's tests and mail benchmark.

Usage: sink.py --port PORT --dir DIR [--reject-domain DOMAIN] [--count-only]
Every accepted message is written to DIR as NNNNNN.eml, with its envelope recipients in an
X-Sink-Rcpt header line first. Recipients at --reject-domain are refused with 550 (a
permanent failure). With --count-only (benchmarks) nothing is stored: DIR/count holds the
number of messages accepted so far and DIR/duplicates the number of Message-IDs seen twice.
The server runs until it is killed; it prints "ready" once listening.
"""
import argparse
import asyncio
import itertools
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, reject_domain, count_only=False):
        self.directory = directory
        self.reject = reject_domain
        self.counter = itertools.count(1)
        self.count_only = count_only
        self.seen = set()
        self.duplicates = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and address.lower().endswith("@" + self.reject):
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        if self.count_only:
            head = (envelope.original_content or envelope.content).split(b"\r\n\r\n", 1)[0]
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    mid = line.split(b":", 1)[1].strip()
                    if mid in self.seen:
                        self.duplicates += 1
                    self.seen.add(mid)
            # Writing the count for every message would make the sink the bottleneck.
            if n % 50 == 0:
                self.flush(n)
            return "250 Message accepted for delivery"
        path = os.path.join(self.directory, "%06d.eml" % n)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"X-Sink-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, path)
        return "250 Message accepted for delivery"

    def flush(self, n):
        for name, value in (("count", n), ("duplicates", self.duplicates)):
            tmp = os.path.join(self.directory, name + ".tmp")
            with open(tmp, "w") as f:
                f.write(str(value))
            os.replace(tmp, os.path.join(self.directory, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reject-domain", default="")
    ap.add_argument("--count-only", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    sink = Sink(a.dir, a.reject_domain.lower(), a.count_only)
    # A loaded machine (a whole test suite on two cores) can take longer than aiosmtpd's
    # default 5 s to bring its server thread up.
    c = Controller(sink, hostname="127.0.0.1", port=a.port, ready_timeout=60)
    c.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    loop.run_until_complete(stop.wait())
    c.stop()
    if a.count_only:
        sink.flush(next(sink.counter) - 1)


if __name__ == "__main__":
    sys.exit(main())
