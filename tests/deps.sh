#!/bin/sh
# Installs what Airlock needs to build and test, when it is missing and we
# are root (a fresh Debian machine): curl and openssl drive the server
# tests on the wire. Never downloads anything but Debian
# packages.
set -e
PKGS="build-essential pkg-config libsqlite3-dev libjansson-dev liblua5.4-dev libyaml-dev libcmocka-dev libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev libgit2-dev clang libclang-rt-14-dev python3 curl openssl ca-certificates"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# the end-to-end tests drive the real kubectl: Debian's when none is on PATH
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "airlock: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "airlock: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
