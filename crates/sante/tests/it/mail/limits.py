"""A hostile mail client against a running Sante whose limits are set low: each limit
of SMTP, IMAP and POP3 answered with the protocol's own reply, and the session
closed where the limit says so. Raw TLS sockets, so that the script sees every reply
and when the server hangs up. Prints one JSON object; the Rust test asserts on it."""
import base64
import io
import json
import select
import socket
import ssl
import sys
import time
import zipfile
from email.message import EmailMessage
from email.policy import SMTP

cfg = json.loads(sys.argv[1])
HOST = "127.0.0.1"
ctx = ssl.create_default_context(cafile=cfg["ca"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
addr, login, password = cfg["address"], cfg["login"], cfg["password"]
limits = cfg["limits"]
got = {}


class Line:
    """A TLS connection read line by line."""

    def __init__(self, port):
        raw = socket.create_connection((HOST, port), timeout=30)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode() + b"\r\n")

    def line(self):
        """The next line, or None once the server has closed the connection."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def smtp(self, command=None):
        """The code of the (last line of the) reply to `command`."""
        if command is not None:
            self.send(command)
        while True:
            line = self.line()
            if line is None:
                return None
            if line[3:4] != "-":
                return int(line[:3])

    def tagged(self, tag, command):
        """IMAP: the untagged lines and the tagged status line of `command`."""
        self.send(f"{tag} {command}")
        lines = []
        while True:
            line = self.line()
            if line is None:
                return lines, None
            if line.startswith(tag + " "):
                return lines, line[len(tag) + 1:]
            lines.append(line)

    def closed(self):
        """Whether the server has hung up (what it sent before is read and dropped)."""
        while True:
            if self.line() is None:
                return True

    def close(self):
        self.sock.close()


plain = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
wrong = base64.b64encode(f"\0{login}\0not-the-password".encode()).decode()


def smtp_session():
    s = Line(cfg["submissions"])
    assert s.smtp() == 220
    assert s.smtp("EHLO client.test") == 250
    return s


def smtp_logged_in():
    s = smtp_session()
    assert s.smtp("AUTH PLAIN " + plain) == 235
    return s


# SMTP: failed authentications, then 421 and the end of the session.
s = smtp_session()
got["smtp_auth_failures"] = [s.smtp("AUTH PLAIN " + wrong) for _ in range(limits["auth"])]
got["smtp_after_auth_failures"] = s.smtp()
got["smtp_closed_after_auth_failures"] = s.closed()

# SMTP: refused commands count, then 421. An unknown command, a recipient before
# MAIL, DATA before MAIL: each a refusal.
s = smtp_logged_in()
codes = []
for i in range(limits["errors"]):
    codes.append(s.smtp(["XYZZY", "RCPT TO:<" + addr + ">", "DATA"][i % 3]))
got["smtp_errors"] = codes
got["smtp_after_errors"] = s.smtp()
got["smtp_closed_after_errors"] = s.closed()

# SMTP: recipients past the limit get 452 (the session goes on); a size announced
# or sent beyond the maximum gets 552 and the session goes on.
s = smtp_logged_in()
assert s.smtp(f"MAIL FROM:<{addr}>") == 250
got["smtp_recipients"] = [s.smtp(f"RCPT TO:<{addr}>") for _ in range(limits["recipients"] + 1)]
assert s.smtp("RSET") == 250
got["smtp_announced_too_big"] = s.smtp(f"MAIL FROM:<{addr}> SIZE={limits['message_bytes'] + 1}")
assert s.smtp(f"MAIL FROM:<{addr}>") == 250
assert s.smtp(f"RCPT TO:<{addr}>") == 250
assert s.smtp("DATA") == 354
body = ("x" * 998 + "\r\n") * (limits["message_bytes"] // 1000 + 10)
s.send(f"From: <{addr}>\r\nTo: <{addr}>\r\nSubject: too big\r\n\r\n{body}.\r\n".encode())
got["smtp_sent_too_big"] = s.smtp()
got["smtp_after_too_big"] = s.smtp("NOOP")
s.close()

# SMTP: a line longer than the limit, and the session ends.
s = smtp_session()
s.send(b"NOOP " + b"a" * 8192)
got["smtp_long_line"] = s.smtp()
got["smtp_closed_after_long_line"] = s.closed()

# SMTP: a client that trickles a command a byte at a time has no more time than one
# that sends nothing.
s = smtp_session()
started = time.monotonic()
try:
    for b in b"NOOP" * 40:
        s.send(bytes([b]))
        if select.select([s.sock], [], [], 0.25)[0]:
            break  # the server answered: it has given up on this command
except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
    pass
got["smtp_trickle_reply"] = s.smtp()
got["smtp_trickle_closed_after_secs"] = round(time.monotonic() - started, 1)
s.close()


def imap_session():
    s = Line(cfg["imap"])
    assert s.line().startswith("* OK")
    return s


# IMAP: sessions of one mailbox beyond the limit are refused with [LIMIT]; one logs
# out, and the next login is accepted again.
sessions = []
answers = []
for i in range(limits["imap_sessions"] + 1):
    s = imap_session()
    _, status = s.tagged("a", f'LOGIN "{login}" "{password}"')
    answers.append(status.split(" ")[0] + (" [LIMIT]" if "[LIMIT]" in status else ""))
    sessions.append(s)
got["imap_logins"] = answers
sessions[0].tagged("z", "LOGOUT")
assert sessions[0].closed()  # the server gives the place back before it closes
sessions[0].close()
_, status = sessions[-1].tagged("b", f'LOGIN "{login}" "{password}"')
got["imap_login_after_logout"] = status.split(" ")[0]
for s in sessions[1:]:
    s.close()

# IMAP: failed logins, then BYE (the next successful login, in POP3, clears the
# account's count of failures before it would lock the account).
s = imap_session()
got["imap_auth_failures"] = [
    s.tagged(f"f{i}", f'LOGIN "{login}" "not-the-password"')[1].split(" ")[0]
    for i in range(limits["auth"])
]
got["imap_closed_after_auth_failures"] = s.closed()

# IMAP: BAD commands, then BYE.
s = imap_session()
got["imap_bad"] = [s.tagged(f"b{i}", "FROBNICATE")[1].split(" ")[0] for i in range(limits["errors"])]
bye = s.line()
got["imap_after_bad"] = (bye or "").split(" ")[1] if bye else None
got["imap_closed_after_bad"] = s.closed()



def pop3_session():
    s = Line(cfg["pop3"])
    assert s.line().startswith("+OK")
    return s


def pop3(s, command):
    s.send(command)
    line = s.line()
    return None if line is None else line.split(" ")[0]



# POP3: refused commands, then the session ends.
s = pop3_session()
assert pop3(s, f"USER {login}") == "+OK"
assert pop3(s, f"PASS {password}") == "+OK"
got["pop3_errors"] = [pop3(s, "RETR 9999") for _ in range(limits["errors"])]
got["pop3_after_errors"] = pop3(s, "NOOP")
got["pop3_closed_after_errors"] = s.closed()

# Archives handed to the anti-virus: a test virus nested deeper than clamd unpacks,
# and a small attachment that inflates past its scan limits (a zip bomb), are refused
# as threats; the same archive, clean and nested shallowly, is delivered.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def nested(content, depth):
    for level in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"level{level}.{'zip' if level else 'txt'}", content)
        content = buf.getvalue()
    return content


def bomb(megabytes):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w") as f:
            block = bytes(1024 * 1024)
            for _ in range(megabytes):
                f.write(block)
    return buf.getvalue()


def submit_attachment(name, data):
    m = EmailMessage()
    m["From"] = addr
    m["To"] = addr
    m["Subject"] = "archive " + name
    m.set_content("see the attachment")
    m.add_attachment(data, maintype="application", subtype="zip", filename=name)
    s = smtp_logged_in()
    assert s.smtp(f"MAIL FROM:<{addr}>") == 250
    assert s.smtp(f"RCPT TO:<{addr}>") == 250
    assert s.smtp("DATA") == 354
    s.send(m.as_bytes(policy=SMTP) + b".\r\n")
    code = s.smtp()
    s.close()
    return code


got["archive_clean_nested"] = submit_attachment("clean.zip", nested(b"harmless text", 3))
got["archive_virus_nested_deep"] = submit_attachment("deep.zip", nested(EICAR, 14))
got["archive_virus_nested_shallow"] = submit_attachment("shallow.zip", nested(EICAR, 2))
got["archive_bomb"] = submit_attachment("bomb.zip", bomb(200))

# POP3: failed logins, then the session ends.
s = pop3_session()
answers = []
for _ in range(limits["auth"]):
    pop3(s, f"USER {login}")
    answers.append(pop3(s, "PASS not-the-password"))
got["pop3_auth_failures"] = answers
got["pop3_closed_after_auth_failures"] = s.closed()

# IMAP: before login, the unauthenticated idle timeout.
s = imap_session()
started = time.monotonic()
bye = s.line()
got["imap_idle"] = (bye or "").split(" ")[1] if bye else None
got["imap_idle_closed_after_secs"] = round(time.monotonic() - started, 1)
s.close()

print(json.dumps(got))
