"""Python's own mail clients (smtplib, poplib) against a running Sante: the
submission rules, the refusals and delivery. Prints one JSON object of what each
step got; the Rust test asserts on it."""
import base64
import json
import poplib
import smtplib
import socket
import ssl
import sys
from email.message import EmailMessage
from email.policy import SMTP

cfg = json.loads(sys.argv[1])
HOST = "127.0.0.1"
ctx = ssl.create_default_context(cafile=cfg["ca"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
addr, login, password = cfg["address"], cfg["login"], cfg["password"]
got = {}


def message(subject, body, to=None):
    m = EmailMessage()
    m["From"] = addr
    m["To"] = to or addr
    m["Subject"] = subject
    m.set_content(body)
    return m


def refused(fn):
    """The SMTP code that refused `fn`, or 0 if it was accepted."""
    try:
        fn()
        return 0
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0][0]
    except smtplib.SMTPResponseException as e:
        return e.smtp_code


# A password offered before STARTTLS: not even read.
s = smtplib.SMTP(HOST, cfg["submission"], local_hostname="client.test", timeout=30)
s.ehlo()
got["auth_offered_in_clear"] = s.has_extn("auth")
got["starttls_offered"] = s.has_extn("starttls")
plain = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
got["plaintext_auth"] = s.docmd("AUTH", "PLAIN " + plain)[0]
s.quit()

# After STARTTLS, without authentication: nothing is accepted.
s = smtplib.SMTP(HOST, cfg["submission"], local_hostname="client.test", timeout=30)
s.starttls(context=ctx)
s.ehlo()
got["extensions"] = sorted(s.esmtp_features.keys())
got["unauthenticated_mail"] = s.docmd("MAIL", f"FROM:<{addr}>")[0]
got["wrong_password"] = refused(lambda: s.login(login, "not-the-password"))
s.login(login, password)
got["spoofed_sender"] = s.docmd("MAIL", "FROM:<someone.else@mss.sante.example>")[0]
s.rset()
got["relay_to_outside"] = refused(
    lambda: s.sendmail(addr, ["someone@elsewhere.example"], message("relay", "x").as_bytes(policy=SMTP))
)
s.rset()
eicar = message("virus", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
got["infected"] = refused(lambda: s.sendmail(addr, [addr], eicar.as_bytes(policy=SMTP)))
s.rset()
utf8 = message("Résultats d'analyse", "Bonjour, voici les résultats — cordialement.")
got["utf8_refusals"] = s.send_message(utf8, mail_options=["SMTPUTF8"])


def raw_data(payload):
    """Sends `payload` after DATA as it is, in a session of its own: the reply code to
    it, and whether the server then closed the session (nothing after it read)."""
    with smtplib.SMTP(HOST, cfg["submission"], local_hostname="client.test", timeout=30) as t:
        t.starttls(context=ctx)
        t.login(login, password)
        t.mail(addr)
        t.rcpt(addr)
        code = t.docmd("DATA")[0]
        if code != 354:
            return [code, False]
        t.send(payload)
        code = t.getreply()[0]
        try:
            t.noop()
            closed = False
        except smtplib.SMTPServerDisconnected:
            closed = True
        return [code, closed]


# SMTP smuggling (CVE-2023-51764): an end of data a later server might read, with a
# second message behind it. None may be accepted, no second message may appear, and
# the session ends, as Postfix's does, so nothing behind it is read as commands.
head = f"From: <{addr}>\r\nTo: <{addr}>\r\nSubject: first\r\n\r\nbody"
smuggled = (
    f"MAIL FROM:<{addr}>\r\nRCPT TO:<{addr}>\r\nDATA\r\n"
    f"From: <{addr}>\r\nTo: <{addr}>\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n"
)
got["smuggling"] = {
    name: raw_data((head + end + smuggled).encode())
    for name, end in [
        ("lf_dot_lf", "\n.\n"),
        ("crlf_dot_lf", "\r\n.\n"),
        ("lf_dot_crlf", "\n.\r\n"),
        ("cr_dot_cr", "\r.\r"),
        ("cr_dot_crlf", "\r.\r\n"),
        # Found by the SMTP end-of-data fuzz target: the codec ends data here.
        ("crlf_dot_cr_crlf", "\r\n.\r\r\n"),
    ]
}
# The session that sent the refusals above is still in step.
got["after_smuggling"] = s.noop()[0]
# The message's author fields name the sender, and nobody else.
s.rset()
forged = message("forged author", "x")
del forged["From"]
forged["From"] = "Dr Someone Else <someone.else@mss.sante.example>"
got["forged_from"] = refused(lambda: s.sendmail(addr, [addr], forged.as_bytes(policy=SMTP)))
s.rset()
forged = message("forged sender", "x")
forged["Sender"] = "someone.else@mss.sante.example"
got["forged_sender"] = refused(lambda: s.sendmail(addr, [addr], forged.as_bytes(policy=SMTP)))
s.quit()

# Implicit TLS on 465.
with smtplib.SMTP_SSL(HOST, cfg["submissions"], context=ctx, timeout=30) as s:
    s.login(login, password)
    got["implicit_tls_refusals"] = s.sendmail(addr, [addr], message("implicit TLS", "hello").as_bytes(policy=SMTP))

# Port 25 from the outside: no relay, and only partner domains may send in.
with smtplib.SMTP(HOST, cfg["inbound"], local_hostname="mx.elsewhere.example", timeout=30) as s:
    s.ehlo()
    got["inbound_clear_mail"] = s.docmd("MAIL", "FROM:<a@elsewhere.example>")[0]
    s.rset()
    s.starttls(context=ctx)
    s.ehlo()
    got["inbound_auth_offered"] = s.has_extn("auth")
    code = s.docmd("MAIL", "FROM:<a@elsewhere.example>")[0]
    if code == 250:
        code = s.docmd("RCPT", "TO:<b@another.example>")[0]
    got["inbound_open_relay"] = code
    s.rset()
    code = s.docmd("MAIL", "FROM:<a@elsewhere.example>")[0]
    if code == 250:
        code = s.docmd("RCPT", f"TO:<{addr}>")[0]
    got["inbound_from_stranger"] = code

# POP3 over TLS: the two messages are there.
p = poplib.POP3_SSL(HOST, cfg["pop3"], context=ctx, timeout=30)
got["pop3_capa"] = sorted(p.capa().keys())
try:
    p.user(login)
    p.pass_("not-the-password")
    got["pop3_wrong_password"] = "accepted"
except poplib.error_proto as e:
    got["pop3_wrong_password"] = e.args[0].decode(errors="replace")
p = poplib.POP3_SSL(HOST, cfg["pop3"], context=ctx, timeout=30)
p.user(login)
p.pass_(password)
count, size = p.stat()
got["pop3_count"] = count
got["pop3_uidl"] = [line.decode().split()[1] for line in p.uidl()[1]]
headers = [b"\n".join(p.top(n, 0)[1]).decode("utf-8", errors="replace") for n in range(1, count + 1)]
got["pop3_top_has_subject"] = all("Subject:" in h for h in headers)
got["pop3_top_has_no_body"] = not any("cordialement" in h for h in headers)
whole = [b"\n".join(p.retr(n)[1]).decode("utf-8", errors="replace") for n in range(1, count + 1)]
got["pop3_retr_has_body"] = any("cordialement" in m for m in whole)
got["pop3_has_smuggled"] = any("smuggled" in m or "forged" in m for m in whole)
p.quit()
print(json.dumps(got))
