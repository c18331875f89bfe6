#!/usr/bin/env bash
# Downloads Debian's arm64 cloud kernels, bookworm (6.1) and bookworm-backports (6.12), into DIR as
# DIR/vmlinuz-6.1 and DIR/vmlinuz-6.12, with a private arm64-only APT configuration: the host's
# dpkg state and sources are not changed (matrix/private-apt.sh).
# Idempotent: kernels already in DIR are kept.
set -euo pipefail
out="${1:?usage: fetch-kernels.sh DIR}"
mkdir -p "$out"
if [ -f "$out/vmlinuz-6.1" ] && [ -f "$out/vmlinuz-6.12" ]; then exit 0; fi

# The private APT configuration is the kernel matrix's (matrix/private-apt.sh, at the repository root).
# shellcheck source=../../../../matrix/private-apt.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)/matrix/private-apt.sh"
apt_setup "$out/apt" arm64 bookworm bookworm-backports

fetch() { # fetch SUITE NAME: the kernel that SUITE's linux-image-cloud-arm64 depends on, as DIR/NAME
  local suite="$1" name="$2" meta image deb tmp
  [ -f "$out/$name" ] && return 0
  tmp="$(mktemp -d)"
  download "$tmp" "linux-image-cloud-arm64/$suite"
  meta="$(ls "$tmp"/linux-image-cloud-arm64_*.deb)"
  image="$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*-cloud-arm64\).*/\1/p' | head -1)"
  [ -n "$image" ] || { echo "fetch-kernels: cannot find the kernel package of $suite" >&2; exit 1; }
  download "$tmp" "$image/$suite"
  deb="$(ls "$tmp"/"$image"_*.deb)"
  dpkg-deb -x "$deb" "$tmp/x"
  cp "$(ls "$tmp"/x/boot/vmlinuz-* | head -1)" "$out/$name"
  echo "fetch-kernels: $suite $image -> $out/$name" >&2
  rm -rf "$tmp"
}
fetch bookworm vmlinuz-6.1
fetch bookworm-backports vmlinuz-6.12
