#!/bin/sh
# Installs what Airlock needs to build and test, when it is missing and we
# are root (a fresh Debian machine): curl and openssl drive the server
# tests on the wire. `sh tests/deps.sh test` (make test) adds what the
# browser test of the approvals page needs (tests/ui): Chromium, Node.js
# and npm, then playwright-core as tests/ui/package-lock.json pins it;
# and Debian's awscli and boto3, the AWS tests' clients (tests/cli/aws.sh).
# Never downloads anything but Debian packages and that npm package.
set -e
PKGS="build-essential pkg-config libsqlite3-dev libjansson-dev liblua5.4-dev libyaml-dev libcmocka-dev libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev libgit2-dev clang libclang-rt-14-dev python3 curl openssl ca-certificates git"
[ "$1" = test ] && PKGS="$PKGS chromium python3-kubernetes awscli python3-boto3"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# the end-to-end tests drive the real kubectl: Debian's when none is on PATH
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
# Debian's node and npm only when none is on PATH: NodeSource's nodejs
# bundles npm, and Debian's npm package would conflict with it
if [ "$1" = test ]; then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "airlock: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
        exit 1
    fi
    echo "airlock: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
ui="$(dirname "$0")/ui"
if [ "$1" = test ] && [ ! -d "$ui/node_modules/playwright-core" ]; then
    echo "airlock: installing playwright-core in $ui (npm ci)"
    npm ci --prefix "$ui" --no-audit --no-fund --loglevel=error >/dev/null
fi
exit 0
