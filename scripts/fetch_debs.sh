#!/usr/bin/env bash
# Downloads the Debian packages an offline build needs (for scripts/setup.sh --offline DIR)
# into DIR, without installing them. Run on a machine that reaches Debian's registry.
set -euo pipefail
dir=${1:?usage: fetch_debs.sh DIR}
mkdir -p "$dir"
cd "$dir"
apt-get download libcli11-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 nlohmann-json3-dev \
  libsentencepiece-dev libsentencepiece0 libgtest-dev libgloo-dev libibverbs-dev libhiredis-dev \
  libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
ls -1 "$PWD"/*.deb
