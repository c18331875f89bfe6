/*
 * The kernel matrix's time-slice extension probe (issue 13): what prctl(PR_RSEQ_SLICE_EXTENSION = 79)
 * GET and SET and the rseq_slice_yield syscall (471 on x86_64 and arm64) answer on the booted kernel,
 * printed as one line for the summary. Built static for each guest architecture by kernel-matrix.sh
 * and run by the guest's init before the JVM jobs. Not part of the library: the library's own probe
 * is RseqRuntime (prctl GET at start-up, SET per thread on first use).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *answer(long rc, int err, char *buf, size_t n) {
    if (rc >= 0) {
        snprintf(buf, n, "%ld", rc);
    } else if (err == 524) {                 /* ENOTSUPP: kernel-internal, leaks from prctl */
        snprintf(buf, n, "ENOTSUPP");
    } else {
        const char *name = strerrorname_np(err);
        snprintf(buf, n, "%s", name ? name : "E?");
    }
    return buf;
}

int main(void) {
    char get[32], set[32], yield[32];
    long rc = prctl(79, 1, 0, 0, 0);
    answer(rc, errno, get, sizeof get);
    rc = prctl(79, 2, 1, 0, 0);
    answer(rc, errno, set, sizeof set);
    rc = syscall(471, 0, 0, 0, 0);
    answer(rc, errno, yield, sizeof yield);
    printf("slice.prctlGet=%s slice.prctlSet=%s slice.yield471=%s\n", get, set, yield);
    return 0;
}
