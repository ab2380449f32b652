"""Python's imaplib against a running Sante: login refusals, folders, APPEND with
UIDPLUS, FETCH of parts with partial ranges, SEARCH, STORE with CONDSTORE, COPY,
MOVE, EXPUNGE, QUOTA and IDLE woken by a delivery. Prints one JSON object."""
import base64
import imaplib
import json
import smtplib
import ssl
import sys
import threading
from email.message import EmailMessage

cfg = json.loads(sys.argv[1])
HOST = "127.0.0.1"
ctx = ssl.create_default_context(cafile=cfg["ca"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
addr, login, password = cfg["address"], cfg["login"], cfg["password"]
got = {}


def untagged(m, name):
    return [x.decode(errors="replace") if isinstance(x, bytes) else x for x in (m.untagged_responses.get(name) or [])]


# Wrong password: refused with the proper code.
m = imaplib.IMAP4_SSL(HOST, cfg["imap"], ssl_context=ctx, timeout=30)
got["capabilities"] = sorted(m.capabilities)
try:
    m.login(login, "not-the-password")
    got["wrong_password"] = "accepted"
except imaplib.IMAP4.error as e:
    got["wrong_password"] = str(e)
m.logout()

m = imaplib.IMAP4_SSL(HOST, cfg["imap"], ssl_context=ctx, timeout=30)
# AUTHENTICATE PLAIN with the address as login.
m.authenticate("PLAIN", lambda _: f"\0{addr}\0{password}".encode())
m.enable("CONDSTORE")
typ, data = m.list()
got["folders"] = [d.decode() for d in data]
got["create"] = m.create("Dossiers/Cardiologie")[0]
got["create_again"] = m.create("Dossiers/Cardiologie")[0]

# APPEND a multipart message into the new folder: APPENDUID comes back.
mixed = (
    "From: Dr Meyer <" + addr + ">\r\nTo: " + addr + "\r\nSubject: Bilan cardiaque\r\n"
    "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <bilan-1@sante.example>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n"
    "--sep\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe bilan est normal.\r\n"
    "--sep\r\nContent-Type: application/pdf; name=\"bilan.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"bilan.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF-1.4 bilan").decode() + "\r\n--sep--\r\n"
)
typ, data = m.append("Dossiers/Cardiologie", "(\\Flagged)", None, mixed.encode())
got["append"] = typ
got["appenduid"] = untagged(m, "APPENDUID")
got["append_nowhere"] = m.append("Nowhere", None, None, b"Subject: x\r\n\r\nx\r\n")[0]

typ, data = m.select("Dossiers/Cardiologie")
got["select_exists"] = int(data[0])
got["uidvalidity"] = untagged(m, "UIDVALIDITY")
got["highestmodseq"] = untagged(m, "HIGHESTMODSEQ")

typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
meta = data[0].decode(errors="replace") if isinstance(data[0], bytes) else data[0][0].decode()
got["fetch_meta"] = meta
typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<0.20>)")
parts = [d for d in data if isinstance(d, tuple)]
got["part1"] = parts[0][1].decode()
got["part2_mime_has_pdf"] = b"application/pdf" in parts[1][1]
got["subject_field"] = parts[2][1].decode()
got["partial"] = parts[3][1].decode()
typ, data = m.fetch("1", "(FLAGS)")
got["flags_after_peek"] = data[0].decode()

typ, data = m.search(None, "SUBJECT", "bilan", "FLAGGED")
got["search_subject"] = data[0].decode()
typ, data = m.search(None, "BODY", "normal", "UNSEEN")
got["search_body"] = data[0].decode()
typ, data = m.search(None, "FROM", "nobody-here")
got["search_none"] = data[0].decode()

# Reading the body marks \Seen; STORE with UNCHANGEDSINCE refuses a stale change.
m.fetch("1", "(BODY[TEXT])")
typ, data = m.fetch("1", "(FLAGS MODSEQ)")
got["flags_after_read"] = data[0].decode()
typ, data = m.store("1", "(UNCHANGEDSINCE 1) +FLAGS", "(\\Answered)")
got["store_stale"] = [str(m.untagged_responses.get("MODIFIED")), typ, [d.decode() if isinstance(d, bytes) else str(d) for d in data]]
typ, data = m.store("1", "+FLAGS", "(\\Answered $Urgent)")
got["store"] = data[0].decode()

# COPY to INBOX (UIDPLUS COPYUID), then MOVE back and EXPUNGE.
typ, data = m.copy("1", "INBOX")
got["copy"] = typ
got["copyuid"] = untagged(m, "COPYUID")
typ, data = m.uid("MOVE", "1", "INBOX")
got["move"] = typ
typ, data = m.select("Dossiers/Cardiologie")
got["after_move_exists"] = int(data[0])

# Quota is visible.
typ, data = m.getquotaroot("INBOX")
got["quota"] = [d.decode() if isinstance(d, bytes) else str(d) for d in data[1]] if len(data) > 1 else [str(d) for d in data]

# INBOX: delete the copy.
typ, data = m.select("INBOX")
inbox_before = int(data[0])
got["inbox_before"] = inbox_before
m.store(str(inbox_before), "+FLAGS", "(\\Deleted)")
typ, data = m.expunge()
got["expunged"] = [d.decode() for d in data if d]
typ, data = m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
got["status"] = data[0].decode()

# IDLE, woken by a message delivered through SMTP.
m.send(b"I1 IDLE\r\n")
cont = m.readline()
got["idle_continuation"] = cont.decode().strip()


def deliver():
    # The server watches the mailbox before it answers "+ idling": no wait needed.
    with smtplib.SMTP_SSL(HOST, cfg["submissions"], context=ctx, timeout=30) as s:
        s.login(login, password)
        msg = EmailMessage()
        msg["From"] = addr
        msg["To"] = addr
        msg["Subject"] = "wakes IDLE"
        msg.set_content("hello")
        s.send_message(msg)


t = threading.Thread(target=deliver)
t.start()
line = m.readline().decode().strip()
got["idle_push"] = line
m.send(b"DONE\r\n")
got["idle_done"] = m.readline().decode().strip()
t.join()
got["delete_folder"] = m.delete("Dossiers/Cardiologie")[0]
try:
    m.xatom("FROBNICATE")
    got["bad_command"] = "accepted"
except imaplib.IMAP4.error as e:
    got["bad_command"] = str(e)
m.logout()


# One folder, one name: a folder created in modified UTF-7 by an IMAP4rev1 client
# and one created in UTF-8 by an IMAP4rev2 client show under the same names to both,
# and to a client that enabled UTF8=ACCEPT.
def connect():
    c = imaplib.IMAP4_SSL(HOST, cfg["imap"], ssl_context=ctx, timeout=30)
    c.login(login, password)
    return c


def names(c):
    typ, data = c.list('""', "*")
    return [d.decode("utf-8") for d in data if isinstance(d, bytes)]


rev1 = connect()
rev2 = connect()
rev2.enable("IMAP4rev2")
got["create_rev1"] = rev1.create("Entw&APw-rfe")[0]
# imaplib sends ASCII only, so the UTF-8 name goes as a literal.
rev2.literal = "Éléments envoyés".encode("utf-8")
got["create_rev2"] = rev2._simple_command("CREATE")[0]
got["list_rev1"] = names(rev1)
got["list_rev2"] = names(rev2)
utf8 = connect()
utf8.enable("UTF8=ACCEPT")
got["list_utf8"] = names(utf8)
got["delete_rev1"] = [rev1.delete("Entw&APw-rfe")[0], rev1.delete('"&AMk-l&AOk-ments envoy&AOk-s"')[0]]
for c in (rev1, rev2, utf8):
    c.logout()
print(json.dumps(got))
