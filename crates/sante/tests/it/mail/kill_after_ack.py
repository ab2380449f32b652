"""Submits one message and kills the server (SIGKILL) the moment its 250 arrives.
Prints the message's subject."""
import json
import os
import signal
import smtplib
import ssl
import sys
import uuid
from email.message import EmailMessage
from email.policy import SMTP

cfg = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cafile=cfg["ca"])
subject = f"acknowledged {uuid.uuid4()}"
m = EmailMessage()
m["From"] = cfg["address"]
m["To"] = cfg["address"]
m["Subject"] = subject
m.set_content("Must survive the crash.\n" * 200)
s = smtplib.SMTP_SSL("127.0.0.1", cfg["submissions"], context=ctx, timeout=30)
s.login(cfg["login"], cfg["password"])
s.mail(cfg["address"])
s.rcpt(cfg["address"])
code, _ = s.data(m.as_bytes(policy=SMTP))
if code == 250:
    os.kill(cfg["pid"], signal.SIGKILL)
print(subject if code == 250 else f"refused {code}")
