"""IMAP on a 100 MB folder, the same operations against each server named, over
TLS (part of scripts/bench-mail.sh). Prints one tab-separated row per operation:
imap <server> <operation> <items> <seconds>."""
import argparse
import imaplib
import random
import socket
import ssl
import time

parser = argparse.ArgumentParser()
parser.add_argument("--ca", required=True)
parser.add_argument("--server", action="append", required=True, help="name=host:port:login:password")
parser.add_argument("--messages", type=int, default=1000)
parser.add_argument("--size", type=int, default=100_000)
args = parser.parse_args()

WORDS = ("patient bilan cardiaque tension analyse sang resultat normal controle "
         "ordonnance traitement suivi consultation radio echographie").split()
rng = random.Random(42)


def message(i):
    lines = []
    size = 0
    while size < args.size:
        line = " ".join(rng.choice(WORDS) for _ in range(12))
        lines.append(line)
        size += len(line) + 2
    marker = "marqueur-unique-%d" % i if i % 100 == 0 else ""
    body = "\r\n".join(lines) + "\r\n" + marker + "\r\n"
    return (
        "From: Dr Bench <bench@partner.bench>\r\nTo: someone@mss.bench\r\n"
        f"Subject: Compte rendu {i}\r\nMessage-ID: <bench-{i}@partner.bench>\r\n"
        "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
    ).encode()


corpus = [message(i) for i in range(args.messages)]
ctx = ssl.create_default_context(cafile=args.ca)
ctx.check_hostname = False


def timed(server, op, items, fn):
    start = time.perf_counter()
    fn()
    print(f"imap\t{server}\t{op}\t{items}\t{time.perf_counter() - start:.4f}", flush=True)


for spec in args.server:
    name, rest = spec.split("=", 1)
    host, port, login, password = rest.split(":", 3)
    m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
    # imaplib sends a literal and its closing CRLF in two writes: without NODELAY
    # the CRLF waits for the server's delayed ACK (40 ms per APPEND on Linux).
    m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    m.login(login, password)
    m.create("Bench")

    def append_all():
        for raw in corpus:
            typ, _ = m.append("Bench", None, None, raw)
            assert typ == "OK", typ

    timed(name, "APPEND 100 KB messages", len(corpus), append_all)
    typ, data = m.select("Bench")
    assert int(data[0]) == len(corpus), data

    def fetch_headers():
        typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)")
        assert typ == "OK" and len(data) >= len(corpus), (typ, len(data))

    timed(name, "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE ...)", len(corpus), fetch_headers)

    def fetch_bodies():
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        got = sum(len(d[1]) for d in data if isinstance(d, tuple))
        assert got >= len(corpus) * args.size, got

    timed(name, "FETCH 1:* BODY.PEEK[] (100 MB)", len(corpus), fetch_bodies)

    def fetch_partial():
        for i in range(1, len(corpus) + 1, 10):
            typ, _ = m.fetch(str(i), "(BODY.PEEK[TEXT]<0.1024>)")
            assert typ == "OK"

    timed(name, "FETCH n BODY.PEEK[TEXT]<0.1024>, one command each", len(corpus) // 10, fetch_partial)

    def search_subject():
        typ, data = m.search(None, "SUBJECT", '"Compte rendu 999"')
        assert typ == "OK" and data[0].split(), data

    timed(name, "SEARCH SUBJECT", len(corpus), search_subject)

    def search_body():
        typ, data = m.search(None, "BODY", "marqueur-unique-500")
        assert typ == "OK" and len(data[0].split()) == 1, data

    timed(name, "SEARCH BODY (100 MB scanned)", len(corpus), search_body)

    def search_flags():
        typ, data = m.uid("SEARCH", None, "UNSEEN")
        assert typ == "OK", typ

    timed(name, "UID SEARCH UNSEEN", len(corpus), search_flags)
    m.logout()
