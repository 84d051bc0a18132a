#!/usr/bin/env bash
# mamori's whole test suite on a fresh Debian 12 machine: installs every Debian package the
# tests use (real rsyslog and logger for the shipper tests), then runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(samba-vfs-modules rsyslog rsyslog-elasticsearch rsyslog-gnutls bsdutils curl ca-certificates golang-go golang-golang-x-mod-dev usbguard umockdev samba smbclient auditd openssh-server openssh-client sshpass sudo slapd ldap-utils postfix swaks squid cups cups-client printer-driver-cups-pdf openssl poppler-utils fonts-ipaexfont ghostscript clickhouse-server nats-server zookeeper chromium chromium-driver fonts-noto-cjk)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # postfix asks for a mail setup at install; the tests configure their own private instance.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Elastic's official Python client, for the Elasticsearch-API compatibility test.
if [ ! -x target/test-venv/bin/python ] || ! target/test-venv/bin/python -c 'import elasticsearch' 2>/dev/null; then
  python3 -m venv target/test-venv
  target/test-venv/bin/pip install --quiet 'elasticsearch>=8.19,<9'
fi

# The system rsyslog service must not be needed: tests start their own rsyslogd on 127.0.0.1.
# Incremental caches double target/ on a clean CI clone and buy nothing there.
export CARGO_INCREMENTAL=0
# The last failing CI run died in the linker (SIGBUS, a full disk): print what is free.
df -h . || true
# Lints first (a check build, minutes): a warning fails the run before the long test build.
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked -- --test-threads=2
