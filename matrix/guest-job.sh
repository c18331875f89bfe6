#!/bin/sh
# The job of a kernel-matrix guest, run by guest-init.sh (busybox sh, outside the chroot: the arm64
# root filesystem has a JVM but no shell). /job.env, written by kernel-matrix.sh, sets JAVA (the JVM
# inside the root share), CORE_JAR, COLLECTIONS_JAR, COLLECTIONS_LIB (under /mnt, the repository),
# SECONDS, CONFIGS and JVM_OPTS (extra JVM options, normally empty). Each configuration runs the README's diagnostics as `./rseq4j diagnose` does:
# the core on the module path (every per-CPU operation, tortured), then the collections' self-test
# (counter-style words, free-list, object and memory pools, both rings, the spin lock and PerCpu).
. /job.env
for config in $CONFIGS; do
  index=cpu; tunables=""; pin=""; mode=""
  case "$config" in
    glibc-cpu) ;;
    glibc-mmcid) index=mmcid ;;
    self-cpu) tunables=glibc.pthread.rseq=0 ;;                    # glibc leaves the area to rseq4j
    self-mmcid) tunables=glibc.pthread.rseq=0; index=mmcid ;;
    lock) mode=-Drseq4j.mode=lock ;;                              # the fallback everyone can use
    pinned) pin="taskset -c 0" ;;                                 # same-CPU preemption only
    *) echo "MATRIX-ERROR unknown configuration $config"; continue ;;
  esac
  echo "MATRIX-BEGIN $config"
  # shellcheck disable=SC2086
  $pin env ${tunables:+GLIBC_TUNABLES=$tunables} chroot /newroot "$JAVA" -XX:-UsePerfData $JVM_OPTS $mode \
    --enable-native-access=dev.rseq4j.core --module-path "$CORE_JAR" \
    -m dev.rseq4j.core/dev.rseq4j.core.tools.Diagnostics --seconds "$SECONDS" --index "$index"
  diagnostics=$?
  # shellcheck disable=SC2086
  $pin env ${tunables:+GLIBC_TUNABLES=$tunables} chroot /newroot "$JAVA" -XX:-UsePerfData $JVM_OPTS $mode \
    --enable-native-access=dev.rseq4j.core --module-path "$CORE_JAR:$COLLECTIONS_JAR:$COLLECTIONS_LIB" \
    -m dev.rseq4j.collections/dev.rseq4j.collections.PoolSelfTest --seconds "$SECONDS" --index "$index"
  collections=$?
  # A JVM crash writes its report to the guest's /tmp, which dies with the guest: keep the essentials.
  for f in /newroot/tmp/hs_err_pid*.log; do
    [ -f "$f" ] || continue
    echo "MATRIX-HS-ERR $f"
    awk '/^(# Problematic frame|siginfo|Instructions|Registers)/ { n = 24 } n > 0 { print; n-- }' "$f"
    rm -f "$f"
  done
  echo "MATRIX-END $config diagnostics=$diagnostics collections=$collections"
done
