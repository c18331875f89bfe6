#!/bin/busybox sh
# PID 1 of every kernel-matrix guest (busybox sh from a static busybox in the initramfs that
# kernel-matrix.sh builds). It loads the few modules the kernel did not build in, mounts the two
# virtiofs shares read-only (tag "root": the system whose JVM runs, i.e. the host's / on x86_64 or the
# extracted arm64 root filesystem; tag "job": the repository, at /mnt), gives the JVM fresh /proc,
# /sys, /dev and a tmpfs /tmp, runs /job.sh and powers off. Everything between the MATRIX-* markers
# on the console is parsed by kernel-matrix.sh; a guest that dies never prints MATRIX-DONE.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Quiet console: only the job's output (and a kernel panic) reaches the log.
echo 1 > /proc/sys/kernel/printk
for m in $(cat /modules.order 2>/dev/null); do
  insmod "/modules/$m.ko" 2>/dev/null || echo "matrix-init: insmod $m failed"
done
if ! mount -t virtiofs -o ro root /newroot || ! mount -t virtiofs -o ro job /newroot/mnt; then
  echo "MATRIX-ERROR virtiofs mount failed"; poweroff -f
fi
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs -o size=512m tmp /newroot/tmp
echo "MATRIX-KERNEL $(uname -r) $(uname -m) cpus=$(grep -c ^processor /proc/cpuinfo)"
/slice-probe | sed 's/^/MATRIX-SLICE /'
sh /job.sh
echo "MATRIX-DONE"
sync
poweroff -f
