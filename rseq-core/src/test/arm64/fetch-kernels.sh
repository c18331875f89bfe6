#!/usr/bin/env bash
# Downloads Debian's arm64 cloud kernels, bookworm (6.1) and bookworm-backports (6.12), into DIR as
# DIR/vmlinuz-6.1 and DIR/vmlinuz-6.12, with a private arm64-only APT configuration: the host's
# dpkg state and sources are not changed. The mirror is the one the host's APT already uses.
# Idempotent: kernels already in DIR are kept.
set -euo pipefail
out="${1:?usage: fetch-kernels.sh DIR}"
mkdir -p "$out"
if [ -f "$out/vmlinuz-6.1" ] && [ -f "$out/vmlinuz-6.12" ]; then exit 0; fi

mirror="$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
[ -n "$mirror" ] || mirror="$(awk '$1 == "deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
[ -n "$mirror" ] || { echo "fetch-kernels: no Debian mirror in the host's APT sources" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt_dir="$out/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/parts"
: > "$apt_dir/status"
cat > "$apt_dir/sources.list" <<SOURCES
deb [arch=arm64 signed-by=$keyring] $mirror bookworm main
deb [arch=arm64 signed-by=$keyring] $mirror bookworm-backports main
SOURCES
opts=(-o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
      -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
      -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
      -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1"
      -o "APT::Sandbox::User=root" -q)
apt-get "${opts[@]}" update >&2

fetch() { # fetch SUITE NAME: the kernel that SUITE's linux-image-cloud-arm64 depends on, as DIR/NAME
  local suite="$1" name="$2" meta image deb tmp
  [ -f "$out/$name" ] && return 0
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get "${opts[@]}" download "linux-image-cloud-arm64/$suite" >&2)
  meta="$(ls "$tmp"/linux-image-cloud-arm64_*.deb)"
  image="$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*-cloud-arm64\).*/\1/p' | head -1)"
  [ -n "$image" ] || { echo "fetch-kernels: cannot find the kernel package of $suite" >&2; exit 1; }
  (cd "$tmp" && apt-get "${opts[@]}" download "$image/$suite" >&2)
  deb="$(ls "$tmp"/"$image"_*.deb)"
  dpkg-deb -x "$deb" "$tmp/x"
  cp "$(ls "$tmp"/x/boot/vmlinuz-* | head -1)" "$out/$name"
  echo "fetch-kernels: $suite $image -> $out/$name" >&2
  rm -rf "$tmp"
}
fetch bookworm vmlinuz-6.1
fetch bookworm-backports vmlinuz-6.12
