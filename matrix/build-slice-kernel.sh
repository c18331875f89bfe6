#!/usr/bin/env bash
# Builds the one kernel of the matrix that has the rseq time-slice extension (issue 28): Debian's
# linux-source-7.2 with CONFIG_RSEQ_SLICE_EXTENSION=y, everything the guest needs built in (no
# modules), once, into the matrix cache as the target x86_64-7.2-slice:
#
#   $cache/x86_64-7.2-slice/vmlinuz  release  modules.order (empty)  modules/ (empty)  build-seconds  done
#
# Debian's own 7.2 images are built without the option (prctl 79 answers ENOTSUPP there), so the
# extension can only be proven on a kernel built here. The configuration is x86_64_defconfig with
# the kvm_guest fragment (virtio, the serial console), then virtiofs, initramfs, rseq and the slice
# extension switched on, and debug information off (it only costs build time); a configuration that
# lost any of them fails the build. Needs root only for apt-get (flex, bison, libelf-dev, libssl-dev,
# bc, when missing). Exit 10: the package registry could not be reached.
#
#   build-slice-kernel.sh          build unless cached; prints the target directory
#   build-slice-kernel.sh --force  build again
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${RSEQ4J_CACHE:-$HOME/.cache/rseq4j}"
out="$base/matrix/x86_64-7.2-slice"
work="$base/slice-kernel"
log() { echo "build-slice-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

[ "${1:-}" = --force ] && rm -f "$out/done"
if [ -f "$out/done" ]; then echo "$out"; exit 0; fi

missing=()
for tool in flex bison bc make gcc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -f /usr/include/libelf.h ] || missing+=(libelf-dev)      # objtool
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)  # certs/extract-cert, sign-file
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them (as root) and run again"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]/make/build-essential}" >&2 \
    || die "apt-get install ${missing[*]} failed"
fi

# The source: Debian's package, through the matrix's private APT configuration (the host's sources
# and dpkg database are never touched).
mkdir -p "$work"
src="$(ls -d "$work"/linux-source-7.2 2>/dev/null || true)"
if [ -z "$src" ]; then
  # shellcheck source=private-apt.sh
  . "$here/private-apt.sh"
  apt_setup "$work/apt" amd64 sid
  rm -f "$work"/linux-source-7.2_*.deb
  download "$work" linux-source-7.2/sid
  rm -rf "$work/pkg"
  dpkg-deb -x "$work"/linux-source-7.2_*.deb "$work/pkg"
  tar -C "$work" -xJf "$work/pkg/usr/src/linux-source-7.2.tar.xz"
  rm -rf "$work/pkg" "$work"/linux-source-7.2_*.deb
  src="$work/linux-source-7.2"
fi
[ -f "$src/Makefile" ] || die "no kernel source in $src"

build="$work/build"
mkdir -p "$build"
make -s -C "$src" O="$build" x86_64_defconfig kvm_guest.config >&2
cfg() { "$src/scripts/config" --file "$build/.config" "$@"; }
cfg --enable RSEQ --enable RSEQ_SLICE_EXTENSION --enable MEMBARRIER \
    --enable VIRTIO --enable VIRTIO_PCI --enable VIRTIO_CONSOLE --enable FUSE_FS --enable VIRTIO_FS \
    --enable SERIAL_8250 --enable SERIAL_8250_CONSOLE \
    --enable DEVTMPFS --enable TMPFS --enable BLK_DEV_INITRD --enable RD_GZIP \
    --enable SMP --enable NUMA --enable FUTEX --enable EPOLL --enable EVENTFD --enable SIGNALFD --enable TIMERFD \
    --disable MODULES --disable DEBUG_INFO --disable DEBUG_INFO_DWARF5 --disable DEBUG_INFO_DWARF4 \
    --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT --enable DEBUG_INFO_NONE --disable DEBUG_INFO_BTF \
    --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS ""
make -s -C "$src" O="$build" olddefconfig >&2
for option in RSEQ RSEQ_SLICE_EXTENSION MEMBARRIER VIRTIO_PCI VIRTIO_FS FUSE_FS SERIAL_8250_CONSOLE DEVTMPFS \
              BLK_DEV_INITRD RD_GZIP; do
  grep -q "^CONFIG_$option=y" "$build/.config" || die "CONFIG_$option is not =y after olddefconfig"
done

log "building $(make -s -C "$src" O="$build" kernelrelease) with $(nproc) jobs"
start=$(date +%s)
make -s -C "$src" O="$build" -j"$(nproc)" bzImage >&2
seconds=$(( $(date +%s) - start ))
rm -rf "$out"; mkdir -p "$out/modules"
cp "$build/arch/x86/boot/bzImage" "$out/vmlinuz"
make -s -C "$src" O="$build" kernelrelease > "$out/release"
: > "$out/modules.order"
echo "$seconds" > "$out/build-seconds"
cp "$build/.config" "$out/config"
touch "$out/done"
log "built in ${seconds}s: $out"
echo "$out"
