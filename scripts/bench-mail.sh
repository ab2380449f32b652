#!/usr/bin/env bash
# Secure messaging beside Postfix + Dovecot, on loopback, in one run (issue 5).
#
#   SMTP: Postfix's smtp-source sends 4 KiB and 100 KiB messages over 1, 8 and 32
#   sessions to Sante's port 25 (from a partner domain) and to a Postfix that hands
#   them to Dovecot over LMTP; the clock stops when the last message is in the
#   mailbox (Sante: at its 250, which is the delivery; Postfix: when Dovecot has
#   written the last file).
#   IMAP: a 100 MB folder (1000 messages of 100 KB, APPENDed over TLS) on each, then
#   FETCH of the headers and structure, FETCH of whole bodies, and SEARCH on a
#   header and on the body text (scripts/bench_imap.py), over TLS on both.
#
# Needs root on a disposable machine (it runs a second Postfix instance and a
# Dovecot from /tmp) and Debian's postfix, dovecot-imapd, dovecot-lmtpd and clamd.
# Usage: scripts/bench-mail.sh [--markdown FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
markdown=""
if [[ "${1:-}" == "--markdown" ]]; then markdown="$2"; fi

work=/tmp/sante-mail-bench
rm -rf "$work"
mkdir -p "$work"
for need in smtp-source postfix dovecot clamd python3; do
  command -v "$need" >/dev/null || { echo "bench-mail: $need is missing (apt install postfix dovecot-imapd dovecot-lmtpd clamav-daemon)"; exit 2; }
done
[[ -n "${SANTE_BIN:-}" || -x target/release/sante ]] || cargo build --release -p sante
sante="${SANTE_BIN:-$root/target/release/sante}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SANTE_HTTPS=$(free_port); SANTE_MTLS=$(free_port); SANTE_25=$(free_port); SANTE_587=$(free_port)
SANTE_465=$(free_port); SANTE_993=$(free_port); SANTE_995=$(free_port)
PF_25=$(free_port); DC_993=$(free_port)

cleanup() {
  [[ -n "${sante_pid:-}" ]] && kill "$sante_pid" 2>/dev/null || true
  postfix -c "$work/postfix" stop >/dev/null 2>&1 || true
  [[ -f "$work/dovecot/run/master.pid" ]] && kill "$(cat "$work/dovecot/run/master.pid")" 2>/dev/null || true
}
trap cleanup EXIT

# --- Sante: the demo platform, a partner domain for smtp-source, no quota in the way.
export SANTE_MESSAGING__SUBMISSION_LISTEN=127.0.0.1:$SANTE_587
export SANTE_MESSAGING__SUBMISSIONS_LISTEN=127.0.0.1:$SANTE_465
export SANTE_MESSAGING__INBOUND_LISTEN=127.0.0.1:$SANTE_25
export SANTE_MESSAGING__IMAP_LISTEN=127.0.0.1:$SANTE_993
export SANTE_MESSAGING__POP3_LISTEN=127.0.0.1:$SANTE_995
export SANTE_MESSAGING__INBOUND_REQUIRE_TLS=false
export SANTE_MESSAGING__QUOTA_MB=100000
export SANTE_LOG__LEVEL=warn
(cd "$work" && exec "$sante" demo --dir sante --listen 127.0.0.1:$SANTE_HTTPS --mtls-listen 127.0.0.1:$SANTE_MTLS > demo.out 2> demo.err) &
sante_pid=$!
for _ in $(seq 180); do grep -q "secure messaging: address" "$work/demo.out" 2>/dev/null && break; sleep 1; done
line=$(grep "secure messaging: address" "$work/demo.out")
address=$(sed -E 's/.*address ([^,]+),.*/\1/' <<<"$line")
password=$(sed -E 's/.*application password ([^ ]+) .*/\1/' <<<"$line")
kill "$sante_pid"; wait "$sante_pid" 2>/dev/null || true
cat >> "$work/sante/sante.toml" <<EOF

[[messaging.partners]]
domain = "partner.bench"
networks = ["127.0.0.1/32"]
EOF
(cd "$work/sante" && exec "$sante" serve > ../serve.out 2> ../serve.err) &
sante_pid=$!
for _ in $(seq 120); do grep -q "^Portal: " "$work/serve.out" 2>/dev/null && break; sleep 1; done

# --- Dovecot: IMAP over TLS, LMTP for Postfix, Maildir under $work/vmail.
id vmail >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin vmail
mkdir -p "$work/dovecot/run" "$work/vmail"
chown vmail:vmail "$work/vmail"
cat > "$work/dovecot/dovecot.conf" <<EOF
base_dir = $work/dovecot/run
state_dir = $work/dovecot/state
protocols = imap lmtp
listen = 127.0.0.1
log_path = $work/dovecot/log
ssl = required
ssl_cert = <$work/sante/tls/server.crt
ssl_key = <$work/sante/tls/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:$work/vmail/%u/Maildir
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 1
passdb {
  driver = static
  args = password=$password
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=$work/vmail/%u
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $DC_993
    ssl = yes
  }
}
service lmtp {
  unix_listener $work/dovecot/lmtp {
    mode = 0666
  }
}
protocol lmtp {
  postmaster_address = postmaster@mss.bench
}
EOF
mkdir -p "$work/dovecot/state"
dovecot -c "$work/dovecot/dovecot.conf"

# --- Postfix: a second instance from $work/postfix on its own port, relaying
# nothing, delivering mss.bench to Dovecot over LMTP.
pf="$work/postfix"
mkdir -p "$pf"
cp /etc/postfix/master.cf "$pf/master.cf"
sed -i -E "s/^smtp +inet .*/127.0.0.1:$PF_25 inet n - n - - smtpd/" "$pf/master.cf"
cat > "$pf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
myhostname = bench.localhost
mydomain = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = mss.bench
virtual_transport = lmtp:unix:$work/dovecot/lmtp
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = $pf/maillog
maillog_file_prefixes = /tmp, /var, /dev/stdout
message_size_limit = 52428800
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
lmtp_destination_concurrency_limit = 32
virtual_destination_concurrency_limit = 32
EOF
postconf -e "alternate_config_directories = $pf"
mkdir -p "$pf/queue" "$pf/data"
postconf -c "$pf" -F '*/*/chroot = n'
chown postfix "$pf/data"
postfix -c "$pf" set-permissions >/dev/null 2>&1 || true
postfix -c "$pf" start >/dev/null
sleep 2

maildir_count() {
  { find "$work/vmail/$1/Maildir/new" "$work/vmail/$1/Maildir/cur" -type f 2>/dev/null || true; } | wc -l
}

results="$work/results.tsv"
: > "$results"
now() { date +%s.%N; }

run_smtp() { # server size_kib sessions messages
  local server=$1 size=$2 sessions=$3 n=$4 port rcpt before start end count
  if [[ $server == sante ]]; then port=$SANTE_25; rcpt=$address; else port=$PF_25; rcpt="bench@mss.bench"; fi
  before=$([[ $server == sante ]] && echo 0 || maildir_count "$rcpt")
  start=$(now)
  smtp-source -d -s "$sessions" -m "$n" -l $((size * 1024)) -f "sender@partner.bench" -t "$rcpt" -M bench.localhost "127.0.0.1:$port"
  if [[ $server == postfix ]]; then
    # Queued is not delivered: wait for Dovecot to have written every message.
    for _ in $(seq 6000); do
      count=$(maildir_count "$rcpt")
      (( count - before >= n )) && break
      sleep 0.05
    done
  fi
  end=$(now)
  printf 'smtp\t%s\t%s\t%s\t%s\t%s\n' "$server" "$size" "$sessions" "$n" "$(echo "$end - $start" | bc)" >> "$results"
  echo "smtp $server ${size}KiB x$sessions: $n messages in $(echo "$end - $start" | bc) s"
}

for size in 4 100; do
  n=$([[ $size == 4 ]] && echo 2000 || echo 500)
  for sessions in 1 8 32; do
    run_smtp postfix "$size" "$sessions" "$n"
    run_smtp sante "$size" "$sessions" "$n"
  done
done

# --- IMAP on a 100 MB folder, both over TLS.
python3 scripts/bench_imap.py \
  --ca "$work/sante/tls/ca.crt" \
  --server "sante=127.0.0.1:$SANTE_993:$address:$password" \
  --server "dovecot=127.0.0.1:$DC_993:bench@mss.bench:$password" \
  --messages 1000 --size 100000 >> "$results"

python3 - "$results" "$markdown" <<'EOF'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
smtp = collections.OrderedDict()
imap = collections.OrderedDict()
for r in rows:
    if r[0] == "smtp":
        _, server, size, sessions, n, secs = r
        smtp.setdefault((size, sessions, n), {})[server] = float(secs)
    elif r[0] == "imap":
        _, server, op, n, secs = r
        imap.setdefault((op, n), {})[server] = float(secs)
out = ["| SMTP, delivered to the mailbox | messages | Sante msg/s | Postfix + Dovecot msg/s | ratio |", "|---|---:|---:|---:|---:|"]
for (size, sessions, n), t in smtp.items():
    s, p = int(n) / t["sante"], int(n) / t["postfix"]
    out.append(f"| {size} KiB, {sessions} session{'s' if sessions != '1' else ''} | {n} | {s:.0f} | {p:.0f} | {s / p:.2f} |")
out += ["", "| IMAP on a 100 MB folder (TLS) | items | Sante s | Dovecot s | ratio (Dovecot time / Sante time) |", "|---|---:|---:|---:|---:|"]
for (op, n), t in imap.items():
    out.append(f"| {op} | {n} | {t['sante']:.3f} | {t['dovecot']:.3f} | {t['dovecot'] / t['sante']:.2f} |")
text = "\n".join(out) + "\n"
print(text)
if sys.argv[2]:
    open(sys.argv[2], "a").write(text)
EOF
