#!/usr/bin/env bash
# The kernel matrix (issue 13): boots Debian's cloud kernels in QEMU (TCG, 2 vCPUs) and runs the
# freshly built jars in each guest, through virtiofs, with nothing copied and nothing installed on the
# host. x86_64 guests run the host's own JDK from the host's root, shared read-only; arm64 guests and
# x86_64-7.2-trixie run Debian trixie's openjdk-25-jre-headless (and glibc 2.41) from a root
# filesystem extracted into the cache. Each guest runs the diagnostics and the collections'
# self-test in the configurations below and prints them on its console; this script checks them
# against what each kernel must show and prints one table. How and why: docs/kernel-matrix.md.
#
#   kernel-matrix.sh fetch TARGET...    download kernels, busybox and the trixie root filesystems
#                                       (exit 10: the package registry could not be reached)
#   kernel-matrix.sh run [--seconds S] [--configs "C ..."] TARGET...
#                                       fetch what is missing, boot each target, print the summary;
#                                       exit 1 if any configuration failed
#   kernel-matrix.sh targets            the targets: x86_64-6.1 x86_64-6.12 x86_64-7.2 x86_64-7.2-trixie
#                                       x86_64-7.2-slice arm64-6.12 arm64-7.2 (-trixie: trixie's JDK and
#                                       glibc 2.41; -slice: 7.2 built here with the time-slice extension,
#                                       by build-slice-kernel.sh, on the first run that needs it)
#
# Configurations (guest-job.sh): glibc-cpu glibc-mmcid self-cpu self-mmcid lock pinned
#   glibc-*  glibc registered rseq (x86_64: the host's glibc 2.36, a 32-byte registration; arm64 and
#            -trixie: glibc 2.41, which registers the kernel's full feature size: 7.x's "V2" mode)
#   self-*   GLIBC_TUNABLES=glibc.pthread.rseq=0: rseq4j registers each thread itself
#   *-cpu / *-mmcid   regions indexed by CPU number or by mm_cid (6.1 has no mm_cid: n/a expected)
#   lock     -Drseq4j.mode=lock;  pinned: glibc-cpu with every thread on CPU 0 (taskset), so every
#            abort comes from a preemption on the same CPU, the case Linux 6.19 broke on arm64
#
# Needs root (virtiofsd), qemu-system-x86 and qemu-system-arm, gcc and gcc-aarch64-linux-gnu (the
# static slice probe), xz-utils, and JAVA_HOME (a JDK 22+, used by the x86_64 guests but -trixie). The jars must be
# built (./rseq4j matrix does both). Cache: ${RSEQ4J_CACHE:-~/.cache/rseq4j}/matrix; a second run
# downloads nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${RSEQ4J_CACHE:-$HOME/.cache/rseq4j}/matrix"
all_targets="x86_64-6.1 x86_64-6.12 x86_64-7.2 x86_64-7.2-trixie x86_64-7.2-slice arm64-6.12 arm64-7.2"
all_configs="glibc-cpu glibc-mmcid self-cpu self-mmcid lock pinned"
# Modules a guest may need for virtiofs and its console, in load order; those a kernel builds in are
# simply absent from its packages.
guest_modules="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console fuse virtiofs"

die() { echo "kernel-matrix: $*" >&2; exit 1; }
log() { echo "kernel-matrix: $*" >&2; }

# A target is ARCH-VERSION, or ARCH-VERSION-trixie for an x86_64 guest that runs Debian trixie's
# JDK and glibc 2.41 (the kernel's "V2" registration) instead of the host's; arm64 always does.
arch_of() { echo "${1%%-*}"; }
version_of() { local v="${1#*-}"; v="${v%-trixie}"; echo "${v%-slice}"; }
# x86_64-7.2-slice: Debian's 7.2 source built here with CONFIG_RSEQ_SLICE_EXTENSION (build-slice-kernel.sh).
is_slice() { [ "${1%-slice}" != "$1" ]; }
kernel_dir() { if is_slice "$1"; then echo "$cache/$1"; else echo "$cache/$(arch_of "$1")-$(version_of "$1")"; fi; }
# The slice kernel runs trixie's root too: the extension applies only to registrations longer than
# 32 bytes ("V2"), which glibc 2.41 makes and the host's glibc 2.36 does not.
uses_trixie_root() { [ "$(arch_of "$1")" = arm64 ] || [ "${1%-trixie}" != "$1" ] || is_slice "$1"; }
suite_of() { case "$1" in 6.1) echo bookworm;; 6.12) echo trixie;; 7.2) echo sid;; *) die "unknown kernel $1";; esac; }
debarch_of() { case "$1" in x86_64) echo amd64;; arm64) echo arm64;; *) die "unknown architecture $1";; esac; }
# What each kernel must report (measured once by hand, then fixed here so that a change is noticed):
# AT_RSEQ_FEATURE_SIZE, and whether mm_cid (Linux 6.3+) exists.
feature_size_of() { case "$1" in 6.1) echo 20;; 6.12) echo 28;; 7.2) echo 33;; esac; }
has_mmcid() { [ "$1" != 6.1 ]; }

# ---------------------------------------------------------------------------------------------------
# fetch: a private APT configuration per architecture and suites (matrix/private-apt.sh), so the
# host's sources and dpkg database are never touched.
# shellcheck source=private-apt.sh
. "$here/private-apt.sh"
apt_for() { # apt_for DEBARCH SUITE...: apt_setup in this cache, one directory per combination
  local debarch="$1"; shift
  apt_setup "$cache/apt-$debarch-$(echo "$@" | tr ' ' '-')" "$debarch" "$@"
}

fetch_kernel() { # fetch_kernel ARCH VERSION: $cache/ARCH-VERSION/{vmlinuz,release,modules/,modules.order}
  local arch="$1" version="$2" debarch suite out tmp meta image deps pkgs m ko
  out="$cache/$arch-$version"
  [ -f "$out/done" ] && return 0
  debarch="$(debarch_of "$arch")"; suite="$(suite_of "$version")"
  apt_for "$debarch" "$suite"
  tmp="$(mktemp -d)"; rm -rf "$out"; mkdir -p "$out/modules"
  download "$tmp" "linux-image-cloud-$debarch/$suite"
  meta="$(ls "$tmp"/linux-image-cloud-"$debarch"_*.deb)"
  image="$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | sed -n "s/^ *\(linux-image-[0-9][^ ]*-cloud-$debarch\).*/\1/p" | head -1)"
  [ -n "$image" ] || die "cannot find the kernel package of $suite ($arch)"
  download "$tmp" "$image/$suite"
  # 7.x kernels are split: the image package depends on linux-binary-* (vmlinuz) and linux-modules-*.
  deps="$(dpkg-deb -f "$tmp/$image"_*.deb Depends | tr ',' '\n' | sed -n "s/^ *\(linux-\(binary\|modules\)-[0-9][^ ]*\).*/\1/p")"
  pkgs=(); for m in $deps; do pkgs+=("$m/$suite"); done
  [ ${#pkgs[@]} -eq 0 ] || download "$tmp" "${pkgs[@]}"
  for m in "$tmp"/linux-image-[0-9]*.deb "$tmp"/linux-binary-*.deb "$tmp"/linux-modules-*.deb; do
    [ -f "$m" ] && dpkg-deb -x "$m" "$tmp/x"
  done
  cp "$(find "$tmp/x" \( -name 'vmlinuz-*' -o -name vmlinuz \) -type f | head -1)" "$out/vmlinuz"
  basename "$(find "$tmp/x" -maxdepth 4 -path '*/modules/*' -type d -name '[0-9]*' | head -1)" > "$out/release"
  # The suite's cloud kernel moves on (sid will leave 7.2): say so; the checks then name what differs.
  case "$(cat "$out/release")" in
    "$version".*) ;;
    *) log "WARNING: $suite now ships $(cat "$out/release") for $arch, not $version: update the matrix's expectations";;
  esac
  : > "$out/modules.order"
  for m in $guest_modules; do
    ko="$(find "$tmp/x" -name "$m.ko" -o -name "$m.ko.xz" | head -1)"
    [ -n "$ko" ] || continue
    case "$ko" in *.xz) xz -dc "$ko" > "$out/modules/$m.ko";; *) cp "$ko" "$out/modules/$m.ko";; esac
    echo "$m" >> "$out/modules.order"
  done
  find "$tmp/x" -name 'config-*' -path '*boot*' -exec cp {} "$out/config" \; -quit
  rm -rf "$tmp"
  touch "$out/done"
  log "$arch $version: $(cat "$out/release") (modules: $(tr '\n' ' ' < "$out/modules.order"))"
}

fetch_busybox() { # fetch_busybox DEBARCH: $cache/busybox-DEBARCH, a static busybox for the initramfs
  local debarch="$1" tmp
  [ -x "$cache/busybox-$debarch" ] && return 0
  apt_for "$debarch" bookworm
  tmp="$(mktemp -d)"
  download "$tmp" busybox-static/bookworm
  dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
  cp "$tmp/x/bin/busybox" "$cache/busybox-$debarch"
  rm -rf "$tmp"
}

fetch_rootfs() { # fetch_rootfs DEBARCH: $cache/rootfs-DEBARCH, trixie's openjdk-25-jre-headless and its closure
  local debarch="$1" root="$cache/rootfs-$1" tmp d
  [ -f "$root/.done" ] && return 0
  apt_for "$debarch" trixie
  tmp="$(mktemp -d)"; rm -rf "$root"; mkdir -p "$root"
  # With an empty dpkg status, a download-only install fetches the whole dependency closure.
  apt-get "${apt_opts[@]}" -o "Dir::Cache::archives=$tmp" -y -d install openjdk-25-jre-headless >&2 \
    || { log "the $debarch JRE and its dependencies could not be downloaded"; exit 10; }
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$root"; done
  # Merged /usr, as a trixie system has it (the loader is looked up as /lib/ld-linux-aarch64.so.1
  # or /lib64/ld-linux-x86-64.so.2).
  for d in bin sbin lib lib64; do
    if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
      mkdir -p "$root/usr/$d"; cp -a "$root/$d/." "$root/usr/$d/"; rm -rf "${root:?}/$d"
    fi
    [ -e "$root/$d" ] || [ ! -d "$root/usr/$d" ] || ln -s "usr/$d" "$root/$d"
  done
  mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/mnt"
  [ -x "$root/usr/lib/jvm/java-25-openjdk-$debarch/bin/java" ] || die "no $debarch java in $root"
  log "$debarch root filesystem: $(ls "$tmp"/*.deb | wc -l) packages, $(du -sh "$root" | cut -f1), $(ls "$tmp"/openjdk-25-jre-headless_*.deb | xargs basename)"
  rm -rf "$tmp"
  touch "$root/.done"
}

fetch() { # fetch TARGET...
  local t arch
  mkdir -p "$cache"
  fetch_busybox amd64      # also packs every initramfs on the host
  for t in "$@"; do
    arch="$(arch_of "$t")"
    if is_slice "$t"; then
      RSEQ4J_CACHE="${cache%/matrix}" "$here/build-slice-kernel.sh" > /dev/null
    else
      fetch_kernel "$arch" "$(version_of "$t")"
    fi
    fetch_busybox "$(debarch_of "$arch")"
    if uses_trixie_root "$t"; then fetch_rootfs "$(debarch_of "$arch")"; fi
  done
  return 0
}

# ---------------------------------------------------------------------------------------------------
# boot: one guest per target; the job's output goes to $cache/logs/TARGET.log.
slice_probe() { # slice_probe ARCH: a static build of slice-probe.c, rebuilt when the source changes
  local arch="$1" out="$cache/slice-probe-$1" cc=gcc
  [ "$arch" = arm64 ] && cc=aarch64-linux-gnu-gcc
  if [ ! -x "$out" ] || [ "$here/slice-probe.c" -nt "$out" ]; then
    "$cc" -static -O -Wall -o "$out" "$here/slice-probe.c" || die "cannot build the slice probe with $cc"
  fi
  echo "$out"
}

boot() { # boot TARGET SECONDS CONFIGS LOG
  local t="$1" seconds="$2" configs="$3" logfile="$4" arch version kdir run java limit status=0 pids=()
  arch="$(arch_of "$t")"; version="$(version_of "$t")"; kdir="$(kernel_dir "$t")"
  run="$(mktemp -d)"
  : > "$logfile.virtiofsd"
  mkdir -p "$run/initrd/modules" "$run/initrd/bin"
  cp "$cache/busybox-$(debarch_of "$arch")" "$run/initrd/bin/busybox"
  cp "$here/guest-init.sh" "$run/initrd/init"; cp "$here/guest-job.sh" "$run/initrd/job.sh"
  cp "$(slice_probe "$arch")" "$run/initrd/slice-probe"
  cp "$kdir/modules.order" "$run/initrd/"; cp "$kdir"/modules/*.ko "$run/initrd/modules/" 2>/dev/null || true
  chmod +x "$run/initrd/init" "$run/initrd/slice-probe"
  if uses_trixie_root "$t"; then
    java="/usr/lib/jvm/java-25-openjdk-$(debarch_of "$arch")/bin/java"; root="$cache/rootfs-$(debarch_of "$arch")"
  else
    java="$JAVA_HOME/bin/java"; root=/
  fi
  cat > "$run/initrd/job.env" <<ENV
JAVA=$java
CORE_JAR=/mnt/${core_jar#"$repo"/}
COLLECTIONS_JAR=/mnt/${collections_jar#"$repo"/}
COLLECTIONS_LIB=/mnt/${collections_lib#"$repo"/}
SECONDS=$seconds
CONFIGS="$configs"
JVM_OPTS="${RSEQ4J_MATRIX_JVM_OPTS:-}"
ENV
  # The host's busybox (the amd64 one fetched above) packs it: no cpio needed on the host.
  (cd "$run/initrd" && find . | "$cache/busybox-amd64" cpio -o -H newc 2>/dev/null | gzip -1) > "$run/initrd.gz"
  /usr/lib/qemu/virtiofsd --socket-path="$run/root.sock" -o source="$root" -o cache=always -o sandbox=chroot \
    2>>"$logfile.virtiofsd" & pids+=($!)
  /usr/lib/qemu/virtiofsd --socket-path="$run/job.sock" -o source="$repo" -o cache=always -o sandbox=chroot \
    2>>"$logfile.virtiofsd" & pids+=($!)
  for _ in $(seq 50); do [ -S "$run/root.sock" ] && [ -S "$run/job.sock" ] && break; sleep 0.1; done
  local common=(-smp 2 -m 2G -object memory-backend-memfd,id=mem,size=2G,share=on -numa node,memdev=mem
                -chardev "socket,id=fs0,path=$run/root.sock" -device vhost-user-fs-pci,chardev=fs0,tag=root
                -chardev "socket,id=fs1,path=$run/job.sock" -device vhost-user-fs-pci,chardev=fs1,tag=job
                -kernel "$kdir/vmlinuz" -initrd "$run/initrd.gz" -display none -monitor none -no-reboot)
  # The JVM under TCG is 10-30x slower than natively: per configuration two JVM start-ups and
  # 12 torture phases of SECONDS each; the limit only catches a hung guest.
  limit=$(( 120 + $(echo "$configs" | wc -w) * (90 + 30 * ${seconds%.*}) ))
  log "booting $t ($(cat "$kdir/release")): configs=[$configs] seconds=$seconds, at most ${limit}s"
  if [ "$arch" = x86_64 ]; then
    # -cx16: bookworm's QEMU 7.2 mis-emulates cmpxchg16b with a segment prefix (random 6.12 crashes).
    # thread=single: with multi-threaded TCG, 4 of 12 JVMs on 6.1 died of SIGSEGV at the verified
    # entry of a just-compiled method (lock mode too, so not rseq: the emulator ran stale code after
    # the JIT rewrote it); one host thread for both vCPUs, 0 of 12. The guest still has 2 CPUs,
    # preemption and migration, so aborts still happen; hardware races are the host tests' job.
    timeout "$limit" qemu-system-x86_64 -accel "tcg,thread=${RSEQ4J_MATRIX_TCG_THREAD:-single}" -cpu max,-cx16 "${common[@]}" \
      -serial "file:$logfile" -append "console=ttyS0 panic=-1 quiet" || status=$?
  else
    # pauth-impdef: TCG's cheap pointer-authentication algorithm (the architected one is slow).
    timeout "$limit" qemu-system-aarch64 -M virt -accel tcg,thread=multi -cpu max,pauth-impdef=on "${common[@]}" \
      -device virtio-serial-pci -chardev "file,id=con,path=$logfile" -device virtconsole,chardev=con \
      -append "console=hvc0 panic=-1 quiet" || status=$?
  fi
  kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$run"
  [ "$status" = 0 ] || log "$t: qemu exited with $status (124: killed after ${limit}s)"
  return 0
}

# ---------------------------------------------------------------------------------------------------
# check: one row per configuration, from the console log; "FAIL(...)" names what was wrong.
check() { # check TARGET LOG: prints rows "target config mode registrant fs ops aborts minAborts lost result"
  local t="$1" logfile="$2" version
  version="$(version_of "$t")"
  awk -v t="$t" -v fs="$(feature_size_of "$version")" -v mmcid="$(has_mmcid "$version" && echo 1 || echo 0)" '
    function finish(   why) {
      why = ""
      want_mode = (c == "lock") ? "LOCK" : "RSEQ"
      want_reg = (c == "lock") ? "NONE" : (c ~ /^self/ ? "RSEQ4J" : "GLIBC")
      if (c ~ /mmcid/ && !mmcid) {
        res = (d != 0 && unavailable) ? "n/a(no mm_cid)" : "FAIL(mm_cid reported on a kernel without it)"
      } else {
        if (d != 0 || p != 0) why = why "exit=" d "/" p ","
        if (mode != want_mode) why = why "mode=" mode ","
        if (reg != want_reg) why = why "registrant=" reg ","
        if (c != "lock" && size != fs) why = why "featureSize=" size "!=" fs ","
        if (lost > 0) why = why "lost=" lost ","
        if (c != "lock" && (nops == 0 || minab == 0)) why = why "an op without aborts,"
        if (passes < 4) why = why "PASS lines=" passes ","
        res = (why == "") ? "PASS" : "FAIL(" substr(why, 1, length(why) - 1) ")"
      }
      printf "%s %s %s %s %s %d %d %d %d %s\n", t, c, mode, reg, size, ops, aborts, minab, lost, res
      c = ""
    }
    /^MATRIX-BEGIN / { c = $2; mode = "?"; reg = "?"; size = "?"; ops = aborts = lost = nops = passes = 0
                       minab = -1; d = p = -1; unavailable = 0; next }
    c == "" { next }
    /^mode=/ { split($1, a, "="); mode = a[2] }
    /^registrant=/ { split($1, a, "="); reg = a[2] }
    /^rseq.featureSize=/ { split($1, a, "="); size = a[2] }
    /unavailable/ { unavailable = 1 }
    /^(result|pools|rings|locks)=PASS/ { passes++ }
    /^op=/ {
      nops++
      for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "ops") ops += kv[2]
        else if (kv[1] == "aborts") { aborts += kv[2]; if (minab < 0 || kv[2] < minab) minab = kv[2] }
        else if (kv[1] ~ /^(lost|heldTwice|duplicated|torn|overlaps)$/) lost += kv[2]
      }
    }
    /^MATRIX-END / { split($3, a, "="); d = a[2]; split($4, a, "="); p = a[2]; if (minab < 0) minab = 0; finish() }
    END { if (c != "") { d = p = "crash"; if (minab < 0) minab = 0; finish() } }
  ' < <(tr -d '\r' < "$logfile")
}

# The slice kernel must have the extension: the probe's prctl GET and syscall 471 answer (not
# ENOTSUPP or ENOSYS), and the library reports rseq.sliceExtension=true where glibc 2.41 registered (a 32-byte
# registration, the self-* configurations for now, keeps the legacy behaviour without it). The lock
# holders' grants and yields, summed over the lock self-tests, are reported beside.
slice_check() { # slice_check TARGET LOG
  local t="$1" logfile="$2" probe on grants yields
  probe="$(grep -a '^MATRIX-SLICE' "$logfile" | tr -d '\r' || true)"
  on="$(tr -d '\r' < "$logfile" | grep -ac '^rseq.sliceExtension=true' || true)"
  grants="$(tr -d '\r' < "$logfile" | sed -n 's/^op=PerCpuSpinLock .*sliceGrants=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')"
  yields="$(tr -d '\r' < "$logfile" | sed -n 's/^op=PerCpuSpinLock .*sliceYields=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')"
  echo "$t: sliceExtension=true in $on configurations, lock holders' grants=$grants yields=$yields"
  # NOTE: only GET and syscall 471: the probe is static with the host's glibc 2.36, whose 32-byte
  # registration keeps the legacy behaviour, so its SET answers ENOTSUPP even here.
  if ! echo "$probe" | grep -q 'prctlGet=[0-9]' || ! echo "$probe" | grep -q 'yield471=[0-9]'; then
    echo "$t: FAIL(the slice kernel does not offer the extension: ${probe:-no probe line})"; return 1
  fi
  if [ "$on" = 0 ]; then echo "$t: FAIL(the library never reported rseq.sliceExtension=true)"; return 1; fi
  return 0
}

run() {
  local seconds=1 configs="$all_configs" t c logfile rows="" failed=0 missing targets=()
  while [ $# -gt 0 ]; do   # options and targets in any order
    case "$1" in
      --seconds) seconds="${2:?--seconds needs a value}"; shift 2;;
      --configs) configs="${2:?--configs needs a value}"; shift 2;;
      -*) die "unknown option $1";;
      *) case " $all_targets " in *" $1 "*) targets+=("$1"); shift;; *) die "unknown target $1 (targets: $all_targets)";; esac;;
    esac
  done
  for c in $configs; do
    case " $all_configs " in *" $c "*) ;; *) die "unknown configuration $c (configurations: $all_configs)";; esac
  done
  if [ ${#targets[@]} -gt 0 ]; then set -- "${targets[@]}"; else set -- $all_targets; fi
  [ "$(id -u)" = 0 ] || die "needs root (virtiofsd shares the host's root with the guests)"
  : "${JAVA_HOME:?JAVA_HOME must name the JDK 22+ the x86_64 guests run}"
  core_jar="$(ls "$repo"/rseq-core/target/rseq-core-*.jar | grep -v -- '-sources\|-javadoc\|-tests' | head -1)"
  collections_jar="$(ls "$repo"/rseq-collections/target/rseq-collections-*.jar | grep -v -- '-sources\|-javadoc\|-tests' | head -1)"
  collections_lib="$repo/rseq-collections/target/lib"
  [ -f "$core_jar" ] && [ -f "$collections_jar" ] || die "build the jars first (./rseq4j matrix does)"
  fetch "$@"
  mkdir -p "$cache/logs"
  for t in "$@"; do
    logfile="$cache/logs/$t.log"; : > "$logfile"
    boot "$t" "$seconds" "$configs" "$logfile"
    grep -a '^MATRIX-KERNEL\|^MATRIX-SLICE\|^MATRIX-ERROR' "$logfile" | tr -d '\r' | sed "s/^/$t: /" >&2 || true
    rows+="$(check "$t" "$logfile")"$'\n'
    missing="$(grep -ac '^MATRIX-DONE' "$logfile" || true)"
    if [ "$missing" = 0 ]; then
      rows+="$t guest - - - 0 0 0 0 FAIL(no MATRIX-DONE: crashed or timed out; see $logfile)"$'\n'
    fi
  done
  echo
  printf '%-17s %-12s %-5s %-10s %-3s %10s %8s %9s %5s  %s\n' kernel config mode registrant fs ops aborts minAborts lost result
  while read -r t c mode reg size ops aborts minab lost res; do
    [ -n "$t" ] || continue
    printf '%-17s %-12s %-5s %-10s %-3s %10s %8s %9s %5s  %s\n' "$t" "$c" "$mode" "$reg" "$size" "$ops" "$aborts" "$minab" "$lost" "$res"
    case "$res" in PASS|n/a*) ;; *) failed=1;; esac
  done <<< "$rows"
  for t in "$@"; do
    echo "$t: $(grep -a '^MATRIX-SLICE' "$cache/logs/$t.log" | tr -d '\r' | cut -d' ' -f2- || echo 'slice probe: no answer')"
    if is_slice "$t"; then slice_check "$t" "$cache/logs/$t.log" || failed=1; fi
  done
  if [ "$failed" = 0 ]; then echo "matrix=PASS"; else echo "matrix=FAIL (logs in $cache/logs)"; fi
  return "$failed"
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  fetch) [ $# -gt 0 ] || set -- $all_targets; fetch "$@" ;;
  run) run "$@" ;;
  targets) echo "$all_targets" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
