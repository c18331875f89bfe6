/*
 * rseq4j arm64 harness: runs as /init of an initramfs under qemu-system-aarch64, so that a real
 * arm64 kernel aborts the critical sections. It installs the stubs that the Java generator emitted
 * (stubs.h, written by StubExport: nothing hand-copied), relocates their rseq_cs descriptors as the
 * Java installer does, and prints one line per check:
 *     CHECK <name> <figures> PASS|FAIL
 * then "RESULT kernel=<release> checks=N failures=M" and powers off. Arm64EmulationTest reads them.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "stubs.h"

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif

#define REGIONS 8              /* more than the emulated CPUs: every cpu_id and mm_cid fits */
#define STRIDE 4096L
#define WORD 8L
#define RING 64L
#define SLOTS 32L
#define PAYLOAD 24L
#define RECORD (8 + PAYLOAD)   /* header word, then the payload */
#define NODES 256
#define NODE_SIZE 16L
#define TORTURE_MS 700
#define ELEMENTS 64            /* the array tortures circulate these; each region's stack holds all of them */
#define ARRAY_SLOTS 64L        /* a stack's first slot (the count is at WORD) */
#define ARRAY_BATCH 4          /* elements one copy-out / copy-in moves */

static int checks, failures;

static void check(int ok, const char *name, const char *fmt, ...) {
    char figures[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(figures, sizeof figures, fmt, ap);
    va_end(ap);
    checks++;
    failures += !ok;
    printf("CHECK %s %s %s\n", name, figures, ok ? "PASS" : "FAIL");
    fflush(stdout);
}

/* ---- stubs ---------------------------------------------------------------------------------- */

typedef long (*op3)(long, long, long);
typedef long (*op4)(long, long, long, long);
typedef long (*op5)(long, long, long, long, long);
typedef long (*op6)(long, long, long, long, long, long);
typedef long (*op7)(long, long, long, long, long, long, long);
typedef long (*op8)(long, long, long, long, long, long, long, long);
typedef long (*probe)(void);

struct stubs {
    const char *name;
    int mmcid;
    op3 add;
    op4 push;
    op5 cas;                       /* expectedIndex, offset, expected, newValue */
    op6 pop;                       /* headOffset, nextOffset, poolFirst, poolLast, nodeMask */
    op7 trystore;                  /* expectedIndex, counterOffset, expected, slotOffset, value, newCounter */
    op8 copy;                      /* expectedIndex, counterOffset, expected, dstOffset, header, src, newCounter */
    op4 take;                      /* offset, expected, newValue: returns the index with the outcome */
    op4 reserve;                   /* offset, limitOffset, n: returns the index, the outcome and the old word */
    op6 batch;                     /* offset, count, value0, value1, value2: returns COMMITTED or (done << 32 | status) */
    op4 apop;                      /* countOffset, slotsOffset, capacity: the element << 32 with the indexed outcome */
    op5 apush;                     /* countOffset, slotsOffset, capacity, value */
    op6 aout;                      /* countOffset, slotsOffset, capacity, n, dst: the top n, bottom first */
    op6 ain;                       /* countOffset, slotsOffset, capacity, n, src */
    probe probes[PROBE_COUNT];
};

/* mmap RW, copy, relocate the descriptors, make the I-cache coherent, mprotect RX. */
static struct stubs install(const struct rseq4j_blob *b) {
    size_t size = (b->size + 4095) & ~4095UL;
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    memcpy(p, b->code, b->size);
    for (int i = 0; i < OP_COUNT; i++) {
        const struct rseq4j_section *s = &b->sections[i];
        uint64_t *d = (uint64_t *) (p + s->descriptor);
        d[0] = 0;                                   /* version, flags */
        d[1] = (uint64_t) (p + s->start);
        d[2] = (uint64_t) (s->post_commit - s->start);
        d[3] = (uint64_t) (p + s->abort);
        uint32_t sig;
        memcpy(&sig, p + s->abort - 4, 4);
        check(sig == RSEQ4J_SIGNATURE, "signature", "blob=%s op=%d word=0x%08x", b->name, i, sig);
    }
    __builtin___clear_cache((char *) p, (char *) p + size);
    if (mprotect(p, size, PROT_READ | PROT_EXEC) != 0) {
        perror("mprotect");
        exit(1);
    }
    struct stubs s = {.name = b->name, .mmcid = strncmp(b->name, "mmcid", 5) == 0};
    s.add = (op3) (p + b->ops[OP_LOAD_ADD_STORE]);
    s.cas = (op5) (p + b->ops[OP_LOAD_COMPARE_STORE]);
    s.push = (op4) (p + b->ops[OP_LIST_PUSH]);
    s.pop = (op6) (p + b->ops[OP_LIST_POP]);
    s.trystore = (op7) (p + b->ops[OP_LOAD_COMPARE_TRYSTORE_STORE]);
    s.copy = (op8) (p + b->ops[OP_LOAD_COMPARE_MEMCPY_STORE]);
    s.take = (op4) (p + b->ops[OP_CURRENT_LOAD_COMPARE_STORE]);
    s.reserve = (op4) (p + b->ops[OP_CURRENT_LOAD_LIMIT_ADD_STORE]);
    s.batch = (op6) (p + b->ops[OP_BATCH_LOAD_ADD_STORE]);
    s.apop = (op4) (p + b->ops[OP_ARRAY_POP]);
    s.apush = (op5) (p + b->ops[OP_ARRAY_PUSH]);
    s.aout = (op6) (p + b->ops[OP_ARRAY_COPY_OUT]);
    s.ain = (op6) (p + b->ops[OP_ARRAY_COPY_IN]);
    for (int i = 0; i < PROBE_COUNT; i++) {
        s.probes[i] = (probe) (p + b->probes[i]);
    }
    return s;
}

static const struct rseq4j_blob *blob(const char *name) {
    for (size_t i = 0; i < sizeof rseq4j_blobs / sizeof rseq4j_blobs[0]; i++) {
        if (strcmp(rseq4j_blobs[i].name, name) == 0) {
            return &rseq4j_blobs[i];
        }
    }
    fprintf(stderr, "no blob %s\n", name);
    exit(1);
}

/* ---- per-CPU memory, as PerCpuArea lays it out ------------------------------------------------ */

struct area {
    unsigned char *mem;
    unsigned char desc[RSEQ4J_AREA_SIZE] __attribute__((aligned(RSEQ4J_AREA_ALIGN)));   /* AreaDescriptor */
};

static void desc_put64(struct area *a, int offset, uint64_t v) { memcpy(a->desc + offset, &v, sizeof v); }
static void desc_put32(struct area *a, int offset, uint32_t v) { memcpy(a->desc + offset, &v, sizeof v); }

static struct area *area_new(void) {
    struct area *a = aligned_alloc(64, sizeof *a);
    a->mem = aligned_alloc(4096, REGIONS * STRIDE);
    memset(a->mem, 0, REGIONS * STRIDE);
    memset(a->desc, 0, sizeof a->desc);
    desc_put64(a, RSEQ4J_AREA_GUARD0, (uint64_t) a->mem);     /* guard at offset 0 of every region */
    desc_put64(a, RSEQ4J_AREA_STRIDE, STRIDE);
    desc_put32(a, RSEQ4J_AREA_COUNT, REGIONS);
    return a;
}

static long D(struct area *a) { return (long) &a->desc; }
static long W(struct area *a, long offset) { return (long) (a->mem + offset); }   /* region-0 address */
static long *at(struct area *a, int region, long offset) { return (long *) (a->mem + region * STRIDE + offset); }
static long lp(struct area *a, int region, long offset) {
    return atomic_load_explicit((_Atomic long *) at(a, region, offset), memory_order_relaxed);
}
static long sum(struct area *a, long offset) {
    long s = 0;
    for (int r = 0; r < REGIONS; r++) s += lp(a, r, offset);
    return s;
}

/* A framed record's header word: int length at byte 0, int type id at byte 4 (little-endian). */
static long header(int type, long length) { return (long) ((uint64_t) (uint32_t) type << 32 | (uint64_t) length); }
/* The torture's type id of record n: negative for even n, so a sign-extended length would show. */
static int type_id(long n) { return (int) (n % 2 == 0 ? ~n : n); }

static atomic_long aborts;

/* Calls until the kernel lets the sequence finish; counts the aborts. */
#define RETRY(call) ({ long _r; while ((_r = (call)) == ABORTED) atomic_fetch_add(&aborts, 1); _r; })

static int current(const struct stubs *s) {
    long id = s->probes[s->mmcid ? PROBE_MM_CID : PROBE_CPU_ID]();
    return id < 0 ? 0 : (int) (id % REGIONS);
}

static atomic_long partials;

/* A batch of count adds from offset, resumed after the sections an abort left committed (as
 * GuardedPerCpuOps does); returns COMMITTED, or the status (not ABORTED) that stopped it with done = 0. */
static long batch(const struct stubs *s, struct area *a, long offset, int count, const long *v) {
    int done = 0;
    for (;;) {
        long r = s->batch(D(a), W(a, offset + 8 * done), count - done, v[done], done + 1 < count ? v[done + 1] : 0,
                          done + 2 < count ? v[done + 2] : 0);
        if (r == COMMITTED) return r;
        long status = r & 0xffffffffL;
        int d = (int) ((unsigned long) r >> 32);
        if (status != ABORTED || d >= count - done) return r;   /* a status to report, or a wrong count */
        atomic_fetch_add(&aborts, 1);
        if (d > 0) atomic_fetch_add(&partials, 1);
        done += d;
    }
}

/* A compare stub called with HERE, the index the thread reads right before the call, as
 * expectedIndex; MOVED (migrated in between) reads it again. */
#define ON_CURRENT(s, call) ({ long _m; do { long HERE = current(s); _m = RETRY(call); } while (_m == MOVED); _m; })

/* ---- single-threaded semantics of the array stack operations --------------------------------------- */

#define ACOUNT WORD             /* the stacks' count word (the slots are at ARRAY_SLOTS) */
#define ACAP 4L                 /* the small stack of the push, pop and corrupt-count checks */
#define ACAP8 8L                /* the stack of the copy checks */

static long a_outcome(long r) { return r & 0xffffffffL & ~RSEQ4J_INDEX_MASK; }   /* tag + status of an indexed result */
static int a_region(long r) { return (int) (r & RSEQ4J_INDEX_MASK); }
static long a_value(long r) { return (long) ((unsigned long) r >> 32); }
static long *a_slot(struct area *a, int region, long i) { return at(a, region, ARRAY_SLOTS + 8 * i); }

/* A fresh area whose every region has an empty stack of `capacity` slots, each slot and the word past
 * the last one holding -1, so that a store anywhere shows. */
static struct area *array_area(long capacity) {
    struct area *a = area_new();
    for (int r = 0; r < REGIONS; r++)
        for (long i = 0; i <= capacity; i++) *a_slot(a, r, i) = -1;
    return a;
}

/* How many regions' counts differ from `base`; *which = the last such region. */
static int changed(struct area *a, long base, int *which) {
    int n = 0;
    for (int r = 0; r < REGIONS; r++)
        if (lp(a, r, ACOUNT) != base) { n++; *which = r; }
    return n;
}

/* Whether region r's slots [from, to) hold v[0..to-from). */
static int slots_are(struct area *a, int r, long from, long to, const long *v) {
    for (long i = from; i < to; i++)
        if (*a_slot(a, r, i) != v[i - from]) return 0;
    return 1;
}

static int all_equal(const long *v, int n, long x) {
    for (int i = 0; i < n; i++)
        if (v[i] != x) return 0;
    return 1;
}

/* The four array operations, single-threaded and pinned to CPU 0 (so one thread's calls all run on one
 * region; mm_cid too, with one thread): each result, and what each stored or did not store. */
static void array_semantics(const struct stubs *s) {
    char name[64];
    cpu_set_t all, cpu0;
    sched_getaffinity(0, sizeof all, &all);
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    sched_setaffinity(0, sizeof cpu0, &cpu0);

    /* push to full: COMMITTED each, then FAILED with nothing stored past the array */
    snprintf(name, sizeof name, "%s/array-push", s->name);
    struct area *a = array_area(ACAP);
    static const long vals[ACAP] = {0, 0x7fffffff, 1, 12345};   /* 0 is an element, not "empty" */
    long pu[ACAP];
    for (int i = 0; i < ACAP; i++) pu[i] = RETRY(s->apush(D(a), W(a, ACOUNT), W(a, ARRAY_SLOTS), ACAP, vals[i]));
    long full = RETRY(s->apush(D(a), W(a, ACOUNT), W(a, ARRAY_SLOTS), ACAP, 99));
    int r = -1;
    int nch = changed(a, 0, &r);
    check(all_equal(pu, ACAP, COMMITTED) && full == FAILED && nch == 1 && lp(a, r, ACOUNT) == ACAP
          && slots_are(a, r, 0, ACAP, vals) && *a_slot(a, r, ACAP) == -1, name,
          "push=%ld,%ld,%ld,%ld full=%ld regions=%d count=%ld", pu[0], pu[1], pu[2], pu[3], full, nch,
          r >= 0 ? lp(a, r, ACOUNT) : -1);

    /* pop: the elements LIFO, each with the indexed COMMITTED of its region; then FAILED, indexed */
    snprintf(name, sizeof name, "%s/array-pop", s->name);
    long po[ACAP];
    int lifo = 1;
    for (int i = 0; i < ACAP; i++) {
        po[i] = RETRY(s->apop(D(a), W(a, ACOUNT), W(a, ARRAY_SLOTS), ACAP));
        lifo &= a_outcome(po[i]) == RSEQ4J_INDEXED_COMMITTED && a_region(po[i]) == r && a_value(po[i]) == vals[ACAP - 1 - i];
    }
    long empty = RETRY(s->apop(D(a), W(a, ACOUNT), W(a, ARRAY_SLOTS), ACAP));
    check(r >= 0 && lifo && (empty & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_FAILED && a_region(empty) == r
          && sum(a, ACOUNT) == 0 && slots_are(a, r, 0, ACAP, vals), name,
          "popped=0x%lx,0x%lx,0x%lx,0x%lx empty=0x%lx", po[0], po[1], po[2], po[3], empty);

    /* copy out: the top n, bottom first, count - n committed; FAILED (nothing copied) with fewer than n */
    snprintf(name, sizeof name, "%s/array-copy-out", s->name);
    struct area *o = array_area(ACAP8);
    static const long six[6] = {100, 101, 102, 103, 104, 105};
    long in6 = RETRY(s->ain(D(o), W(o, ACOUNT), W(o, ARRAY_SLOTS), ACAP8, 6, (long) six));
    long dst[ACAP8];
    for (int i = 0; i < ACAP8; i++) dst[i] = -7;
    long o1 = RETRY(s->aout(D(o), W(o, ACOUNT), W(o, ARRAY_SLOTS), ACAP8, 4, (long) dst));
    nch = changed(o, 0, &r);
    int ok1 = o1 == COMMITTED && slots_are(o, r, 0, 6, six) && dst[0] == 102 && dst[1] == 103 && dst[2] == 104
              && dst[3] == 105 && all_equal(dst + 4, 4, -7) && nch == 1 && lp(o, r, ACOUNT) == 2;
    for (int i = 0; i < ACAP8; i++) dst[i] = -7;
    long o2 = RETRY(s->aout(D(o), W(o, ACOUNT), W(o, ARRAY_SLOTS), ACAP8, 4, (long) dst));   /* 2 left */
    int ok2 = o2 == FAILED && all_equal(dst, ACAP8, -7) && lp(o, r, ACOUNT) == 2;
    long o3 = RETRY(s->aout(D(o), W(o, ACOUNT), W(o, ARRAY_SLOTS), ACAP8, 2, (long) dst));
    int ok3 = o3 == COMMITTED && dst[0] == 100 && dst[1] == 101 && all_equal(dst + 2, 6, -7) && sum(o, ACOUNT) == 0;
    long o4 = RETRY(s->aout(D(o), W(o, ACOUNT), W(o, ARRAY_SLOTS), ACAP8, 1, (long) dst));   /* empty */
    check(in6 == COMMITTED && ok1 && ok2 && ok3 && o4 == FAILED && dst[0] == 100 && sum(o, ACOUNT) == 0, name,
          "in=%ld out4=%ld fewer=%ld out2=%ld empty=%ld moved=%ld,%ld", in6, o1, o2, o3, o4, dst[0], dst[1]);

    /* copy in: count + n committed, src[n - 1] on top; FAILED (nothing stored) without room for all n */
    snprintf(name, sizeof name, "%s/array-copy-in", s->name);
    struct area *c = array_area(ACAP8);
    static const long src8[ACAP8] = {300, 301, 302, 303, 304, 305, 306, 307};
    static const long minus1[ACAP8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    long i1 = RETRY(s->ain(D(c), W(c, ACOUNT), W(c, ARRAY_SLOTS), ACAP8, 3, (long) src8));
    nch = changed(c, 0, &r);
    int iok1 = i1 == COMMITTED && nch == 1 && lp(c, r, ACOUNT) == 3 && slots_are(c, r, 0, 3, src8)
               && slots_are(c, r, 3, ACAP8 + 1, minus1);
    long i2 = RETRY(s->ain(D(c), W(c, ACOUNT), W(c, ARRAY_SLOTS), ACAP8, 6, (long) src8));   /* 3 + 6 > 8 */
    int iok2 = i2 == FAILED && lp(c, r, ACOUNT) == 3 && slots_are(c, r, 3, ACAP8 + 1, minus1);
    long i3 = RETRY(s->ain(D(c), W(c, ACOUNT), W(c, ARRAY_SLOTS), ACAP8, 5, (long) (src8 + 3)));   /* exactly full */
    int iok3 = i3 == COMMITTED && lp(c, r, ACOUNT) == ACAP8 && slots_are(c, r, 0, ACAP8, src8)
               && *a_slot(c, r, ACAP8) == -1;
    long i4 = RETRY(s->ain(D(c), W(c, ACOUNT), W(c, ARRAY_SLOTS), ACAP8, 1, (long) src8));   /* full */
    for (int i = 0; i < ACAP8; i++) dst[i] = -7;
    long i5 = RETRY(s->aout(D(c), W(c, ACOUNT), W(c, ARRAY_SLOTS), ACAP8, ACAP8, (long) dst));   /* the whole array */
    check(iok1 && iok2 && iok3 && i4 == FAILED && lp(c, r, ACOUNT) == 0 && i5 == COMMITTED
          && memcmp(dst, src8, sizeof dst) == 0 && sum(c, ACOUNT) == 0, name,
          "in3=%ld no-room=%ld in5=%ld full=%ld out8=%ld", i1, i2, i3, i4, i5);

    /* a count beyond the capacity: CORRUPT from pop, copy out and copy in (push: FAILED), nothing stored */
    static const long bad[] = {ACAP + 1, 1L << 32, -1L, -ACAP, (long) (1UL << 63)};
    static const long elems[ACAP] = {50, 51, 52, 53};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        snprintf(name, sizeof name, "%s/array-corrupt-count=%ld", s->name, bad[b]);
        struct area *k = array_area(ACAP);
        for (int reg = 0; reg < REGIONS; reg++) {
            *at(k, reg, ACOUNT) = bad[b];
            for (int i = 0; i < ACAP; i++) *a_slot(k, reg, i) = elems[i];
        }
        long kd[ACAP] = {-7, -7, -7, -7}, ks[ACAP] = {77, 78, 79, 80};
        long n = bad[b] < 0 && bad[b] >= -ACAP ? -bad[b] : 1;         /* so that count + n wraps to <= capacity */
        long kpop = RETRY(s->apop(D(k), W(k, ACOUNT), W(k, ARRAY_SLOTS), ACAP));
        long kout = RETRY(s->aout(D(k), W(k, ACOUNT), W(k, ARRAY_SLOTS), ACAP, 1, (long) kd));
        long kin = RETRY(s->ain(D(k), W(k, ACOUNT), W(k, ARRAY_SLOTS), ACAP, n, (long) ks));
        long kpush = RETRY(s->apush(D(k), W(k, ACOUNT), W(k, ARRAY_SLOTS), ACAP, 81));
        int untouched = all_equal(kd, ACAP, -7);
        for (int reg = 0; reg < REGIONS; reg++)
            untouched &= lp(k, reg, ACOUNT) == bad[b] && slots_are(k, reg, 0, ACAP, elems) && *a_slot(k, reg, ACAP) == -1
                         && *a_slot(k, reg, -1) == 0;
        check(kpop == CORRUPT && kout == CORRUPT && kin == CORRUPT && kpush == FAILED && untouched, name,
              "pop=%ld out=%ld in=%ld push=%ld untouched=%d", kpop, kout, kin, kpush, untouched);
    }

    /* a held guard: GUARDED from each (plain, not indexed), nothing stored */
    snprintf(name, sizeof name, "%s/array-guarded", s->name);
    struct area *g = array_area(ACAP);
    for (int reg = 0; reg < REGIONS; reg++) *(int *) at(g, reg, 0) = 1;
    long gd[ACAP] = {-7, -7, -7, -7};
    long gpop = RETRY(s->apop(D(g), W(g, ACOUNT), W(g, ARRAY_SLOTS), ACAP));
    long gpush = RETRY(s->apush(D(g), W(g, ACOUNT), W(g, ARRAY_SLOTS), ACAP, 5));
    long gout = RETRY(s->aout(D(g), W(g, ACOUNT), W(g, ARRAY_SLOTS), ACAP, 1, (long) gd));
    long gin = RETRY(s->ain(D(g), W(g, ACOUNT), W(g, ARRAY_SLOTS), ACAP, 2, (long) vals));
    int gclean = sum(g, ACOUNT) == 0 && all_equal(gd, ACAP, -7);
    for (int reg = 0; reg < REGIONS; reg++) gclean &= slots_are(g, reg, 0, ACAP + 1, minus1);
    check(gpop == GUARDED && gpush == GUARDED && gout == GUARDED && gin == GUARDED && gclean, name,
          "pop=%ld push=%ld out=%ld in=%ld", gpop, gpush, gout, gin);

    /* count 0 in the descriptor: every index is out of range, as an unregistered thread's -1/-2 */
    snprintf(name, sizeof name, "%s/array-index-invalid", s->name);
    struct area *none = array_area(ACAP);
    desc_put32(none, RSEQ4J_AREA_COUNT, 0);
    for (int reg = 0; reg < REGIONS; reg++) *at(none, reg, ACOUNT) = 2;   /* pop and copy out would succeed */
    long nd[ACAP] = {-7, -7, -7, -7};
    long npop = RETRY(s->apop(D(none), W(none, ACOUNT), W(none, ARRAY_SLOTS), ACAP));
    long npush = RETRY(s->apush(D(none), W(none, ACOUNT), W(none, ARRAY_SLOTS), ACAP, 5));
    long nout = RETRY(s->aout(D(none), W(none, ACOUNT), W(none, ARRAY_SLOTS), ACAP, 1, (long) nd));
    long nin = RETRY(s->ain(D(none), W(none, ACOUNT), W(none, ARRAY_SLOTS), ACAP, 1, (long) vals));
    int nclean = sum(none, ACOUNT) == 2 * REGIONS && all_equal(nd, ACAP, -7);
    for (int reg = 0; reg < REGIONS; reg++) nclean &= slots_are(none, reg, 0, ACAP + 1, minus1);
    check(npop == INDEX_INVALID && npush == INDEX_INVALID && nout == INDEX_INVALID && nin == INDEX_INVALID && nclean,
          name, "pop=%ld push=%ld out=%ld in=%ld", npop, npush, nout, nin);

    sched_setaffinity(0, sizeof all, &all);
}

/* ---- single-threaded semantics ----------------------------------------------------------------- */

static void semantics(const struct stubs *s) {
    char name[64];
    struct area *a = area_new();
    snprintf(name, sizeof name, "%s/add", s->name);
    long r = RETRY(s->add(D(a), W(a, 8), 41));
    check(r == COMMITTED && sum(a, 8) == 41, name, "status=%ld sum=%ld", r, sum(a, 8));

    snprintf(name, sizeof name, "%s/compare-store", s->name);
    long miss = ON_CURRENT(s, s->cas(D(a), HERE, W(a, 16), 5, 9));
    long hit = ON_CURRENT(s, s->cas(D(a), HERE, W(a, 16), 0, 9));
    check(miss == FAILED && hit == COMMITTED && sum(a, 16) == 9, name, "miss=%ld hit=%ld sum=%ld", miss, hit, sum(a, 16));

    /* an expectedIndex no section runs on: MOVED, nothing stored, where the operation would succeed */
    snprintf(name, sizeof name, "%s/moved", s->name);
    long count_wrong = REGIONS, high_wrong = (1L << 32) | current(s);
    long mcas = RETRY(s->cas(D(a), count_wrong, W(a, 16), 9, 10));
    long mcas2 = RETRY(s->cas(D(a), high_wrong, W(a, 16), 9, 10));
    long mtry = RETRY(s->trystore(D(a), -1, W(a, 40), 0, W(a, RING), 77, 1));
    long mcopy = RETRY(s->copy(D(a), REGIONS, W(a, 48), 0, W(a, 200), header(7, 8), W(a, 16), 1));
    check(mcas == MOVED && mcas2 == MOVED && mtry == MOVED && mcopy == MOVED && sum(a, 16) == 9 && sum(a, 40) == 0
          && sum(a, RING) == 0 && sum(a, 48) == 0 && sum(a, 200) == 0 && sum(a, 208) == 0, name,
          "cas=%ld/%ld trystore=%ld memcpy=%ld",
          mcas, mcas2, mtry, mcopy);

    /* the take returns the region its section ran on with the outcome (StubStatus.indexed) */
    snprintf(name, sizeof name, "%s/take", s->name);
    long tkmiss = RETRY(s->take(D(a), W(a, 80), 5, 9));
    long tkhit = RETRY(s->take(D(a), W(a, 80), 0, 9));
    long tkregion = tkhit & RSEQ4J_INDEX_MASK;
    check((tkmiss & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_FAILED && (tkmiss & RSEQ4J_INDEX_MASK) < REGIONS
          && (tkhit & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_COMMITTED && tkregion < REGIONS
          && *at(a, (int) tkregion, 80) == 9 && sum(a, 80) == 9, name, "miss=0x%lx hit=0x%lx", tkmiss, tkhit);

    /* the reservation: the old word in the high half, full at the limit word of the same region */
    snprintf(name, sizeof name, "%s/reserve", s->name);
    for (int reg = 0; reg < REGIONS; reg++) { *at(a, reg, 96) = 0x100000005L; *at(a, reg, 104) = 0x100000007L; }
    long rv1 = RETRY(s->reserve(D(a), W(a, 96), W(a, 104), 2));
    long rv1region = rv1 & RSEQ4J_INDEX_MASK;
    long rvfull = RETRY(s->reserve(D(a), W(a, 96), W(a, 104), 3));   /* 7 + 3 > 7 on any region */
    check((rv1 & 0xffffffffL & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_COMMITTED && rv1region < REGIONS
          && (unsigned long) rv1 >> 32 == 5 && *at(a, (int) rv1region, 96) == 0x100000007L
          && (rvfull & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_FAILED
          && sum(a, 96) == 0x100000005L * REGIONS + 2, name, "reserved=0x%lx full=0x%lx", rv1, rvfull);

    /* the batch: each value once, values past the count ignored */
    snprintf(name, sizeof name, "%s/batch", s->name);
    static const long b3[] = {1, 20, 300}, b2[] = {10, 20, 99}, b1[] = {5, 99, 99};
    long bt3 = batch(s, a, 136, 3, b3), bt2 = batch(s, a, 136, 2, b2), bt1 = batch(s, a, 152, 1, b1);
    check(bt3 == COMMITTED && bt2 == COMMITTED && bt1 == COMMITTED && sum(a, 136) == 11 && sum(a, 144) == 40
          && sum(a, 152) == 305 && sum(a, 160) == 0, name, "status=%ld/%ld/%ld sums=%ld,%ld,%ld,%ld", bt3, bt2, bt1,
          sum(a, 136), sum(a, 144), sum(a, 152), sum(a, 160));

    snprintf(name, sizeof name, "%s/list", s->name);
    long *pool = aligned_alloc(16, 4 * 32);
    memset(pool, 0, 4 * 32);
    long first = (long) pool, last = (long) pool + 3 * 32, node = (long) pool + 2 * 32;
    long empty = RETRY(s->pop(D(a), W(a, 24), 16, first, last, 31));
    long pushed = RETRY(s->push(D(a), W(a, 24), node, 16));
    long popped = 0;
    for (int i = 0; i < 100000 && popped != node; i++) popped = RETRY(s->pop(D(a), W(a, 24), 16, first, last, 31));
    check(empty == FAILED && pushed == COMMITTED && popped == node && sum(a, 24) == 0, name,
          "empty=%ld push=%ld popped=%s", empty, pushed, popped == node ? "node" : "other");

    snprintf(name, sizeof name, "%s/list-corrupt-head", s->name);
    for (int reg = 0; reg < REGIONS; reg++) *at(a, reg, 32) = 0x1000;
    long corrupt = RETRY(s->pop(D(a), W(a, 32), 16, first, last, 31));
    check(corrupt == CORRUPT && sum(a, 32) == 0x1000 * REGIONS, name, "status=%ld", corrupt);

    /* inside the pool but between nodes: refused before the load, nothing committed */
    static const long misaligned[] = {8, 1, 16, 24, 32 + 8, 3 * 32 - 8};
    for (size_t m = 0; m < sizeof misaligned / sizeof misaligned[0]; m++) {
        snprintf(name, sizeof name, "%s/list-misaligned-head+%ld", s->name, misaligned[m]);
        for (int reg = 0; reg < REGIONS; reg++) *at(a, reg, 56) = first + misaligned[m];
        long mis = RETRY(s->pop(D(a), W(a, 56), 16, first, last, 31));
        check(mis == CORRUPT && sum(a, 56) == (first + misaligned[m]) * REGIONS, name, "status=%ld", mis);
    }

    snprintf(name, sizeof name, "%s/trystore", s->name);
    long tmiss = ON_CURRENT(s, s->trystore(D(a), HERE, W(a, 40), 1, W(a, RING), 77, 2));
    long thit = ON_CURRENT(s, s->trystore(D(a), HERE, W(a, 40), 0, W(a, RING), 77, 1));
    check(tmiss == FAILED && thit == COMMITTED && sum(a, 40) == 1 && sum(a, RING) == 77, name,
          "miss=%ld hit=%ld", tmiss, thit);

    snprintf(name, sizeof name, "%s/memcpy", s->name);
    unsigned char src[37];
    for (int i = 0; i < 37; i++) src[i] = (unsigned char) (i * 7 + 1);
    /* a negative type id: the length must come from the header's low 32 bits alone (uxtw) */
    long h = header((int) 0xCAFEBABE, 37);
    long cmiss = ON_CURRENT(s, s->copy(D(a), HERE, W(a, 48), 3, W(a, 200), h, (long) src, 4));
    long chit = ON_CURRENT(s, s->copy(D(a), HERE, W(a, 48), 0, W(a, 200), h, (long) src, 1));
    long cempty = ON_CURRENT(s, s->copy(D(a), HERE, W(a, 72), 0, W(a, 320), header(-1, 0), (long) src, 1));
    int found = 0;
    for (int reg = 0; reg < REGIONS; reg++) {
        unsigned char *rec = a->mem + reg * STRIDE + 200;
        int32_t length, type;
        memcpy(&length, rec, 4);
        memcpy(&type, rec + 4, 4);
        found |= length == 37 && type == (int32_t) 0xCAFEBABE && memcmp(rec + 8, src, 37) == 0 && rec[8 + 37] == 0;
    }
    check(cmiss == FAILED && chit == COMMITTED && cempty == COMMITTED && sum(a, 48) == 1 && sum(a, 72) == 1
          && sum(a, 320) == header(-1, 0) && sum(a, 328) == 0 && found, name, "miss=%ld hit=%ld empty=%ld copied=%d",
          cmiss, chit, cempty, found);

    snprintf(name, sizeof name, "%s/index-invalid", s->name);
    struct area *none = area_new();
    desc_put32(none, RSEQ4J_AREA_COUNT, 0);
    long inv = RETRY(s->add(D(none), W(none, 8), 1));
    long tkinv = RETRY(s->take(D(none), W(none, 8), 0, 1));
    long btinv = batch(s, none, 8, 3, b3);
    check(inv == INDEX_INVALID && tkinv == INDEX_INVALID && btinv == INDEX_INVALID && sum(none, 8) == 0, name,
          "status=%ld take=%ld batch=%ld", inv, tkinv, btinv);

    snprintf(name, sizeof name, "%s/guarded", s->name);
    struct area *g = area_new();
    for (int reg = 0; reg < REGIONS; reg++) *(int *) at(g, reg, 0) = 1;
    long gr = RETRY(s->add(D(g), W(g, 8), 1));
    long tkg = RETRY(s->take(D(g), W(g, 8), 0, 1));
    long btg = batch(s, g, 8, 3, b3);
    check(gr == GUARDED && tkg == GUARDED && btg == GUARDED && sum(g, 8) == 0 && sum(g, 16) == 0, name,
          "status=%ld take=%ld batch=%ld", gr, tkg, btg);

    snprintf(name, sizeof name, "%s/probes", s->name);
    long cpu = s->probes[PROBE_CPU_ID](), nothing = s->probes[PROBE_NOTHING]();
    long expected_area = (long) __builtin_thread_pointer() + __rseq_offset;
    long area_address = s->probes[PROBE_AREA_ADDRESS]();
    check(cpu >= 0 && cpu < REGIONS && nothing == 0 && area_address == expected_area, name,
          "cpu=%ld nothing=%ld area=%s", cpu, nothing, area_address == expected_area ? "ok" : "wrong");

    array_semantics(s);
}

/* ---- torture ------------------------------------------------------------------------------------ */

enum workload { W_ADD, W_CAS, W_LIST, W_TRYSTORE, W_MEMCPY, W_TAKE, W_RESERVE, W_BATCH, W_ARRAY, W_ARRAY_COPY };
static const char *workload_names[] = {"add", "compare-store", "list", "trystore", "memcpy", "take", "reserve", "batch",
                                       "array-pop-push", "array-copy"};
#define BATCH_WORD (WORD + 16)     /* the batch adds 1, 2 and 3 to three words from here */
enum stressor { S_NONE, S_SIGNALS, S_MEMBARRIER, S_PINNED };
static const char *stressor_names[] = {"", "+signals", "+membarrier", "+pinned-cpu0"};

struct torture {
    const struct stubs *s;
    enum workload w;
    struct area *a;
    long *nodes;
    atomic_int stop;
    int pinned;
};

/* The array tortures' elements: distinct, none of them 0 or a small number a stray store would leave. */
static long element(int i) { return 5 + 33L * i; }
static int element_index(long v) { return v >= 5 && (v - 5) % 33 == 0 && (v - 5) / 33 < ELEMENTS ? (int) ((v - 5) / 33) : -1; }

/* Puts n elements just taken back on the current region's stack (a push for one, a copy-in for more).
 * Never full in a correct run (a stack holds every element): after many FAILED the elements are
 * dropped, and lost() reports them. Returns whether they went back. */
static int put_back(const struct stubs *s, struct area *a, long *v, int n) {
    for (int tries = 0; tries < 1000; tries++) {
        long r = n == 1 ? RETRY(s->apush(D(a), W(a, WORD), W(a, ARRAY_SLOTS), ELEMENTS, v[0]))
                        : RETRY(s->ain(D(a), W(a, WORD), W(a, ARRAY_SLOTS), ELEMENTS, n, (long) v));
        if (r == COMMITTED) return 1;
        if (r != FAILED) return 0;
        sched_yield();
    }
    return 0;
}

static void *worker(void *arg) {
    struct torture *t = arg;
    const struct stubs *s = t->s;
    struct area *a = t->a;
    long done = 0, record[3], held[ARRAY_BATCH];
    int holding = 0;               /* the array workloads: elements taken and not yet put back */
    if (t->pinned) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    long first = (long) t->nodes, last = (long) t->nodes + (NODES - 1) * NODE_SIZE;
    while (!atomic_load(&t->stop)) {
        switch (t->w) {
        case W_ADD:
            RETRY(s->add(D(a), W(a, WORD), 1));
            done++;
            break;
        case W_CAS: {               /* MOVED (migrated since current()) counts as not done, like FAILED */
            int here = current(s);
            long v = lp(a, here, WORD);
            done += RETRY(s->cas(D(a), here, W(a, WORD), v, v + 1)) == COMMITTED;
            break;
        }
        case W_TAKE: {              /* a commit on another region that held the same value is an increment there */
            long v = lp(a, current(s), WORD);
            long r = RETRY(s->take(D(a), W(a, WORD), v, v + 1));
            done += (r & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_COMMITTED;
            break;
        }
        case W_RESERVE:             /* the limit word (WORD + 8) is never reached */
            done += (RETRY(s->reserve(D(a), W(a, WORD), W(a, WORD + 8), 1)) & 0xffffffffL & ~RSEQ4J_INDEX_MASK)
                    == RSEQ4J_INDEXED_COMMITTED;
            break;
        case W_BATCH: {
            static const long v[] = {1, 2, 3};
            done += batch(s, a, BATCH_WORD, 3, v) == COMMITTED;
            break;
        }
        /* The array workloads hold what they took until the next round and put back the previous take
         * after each new one, so elements move between threads and every stack's contents keep changing
         * (putting back the element just popped would leave the stack as it was, and a lost update could
         * go unseen); empty (or fewer than a batch): put back what is held. The rest at the end. */
        case W_ARRAY: {             /* pop, then push back the element popped before */
            long r = RETRY(s->apop(D(a), W(a, WORD), W(a, ARRAY_SLOTS), ELEMENTS));
            int popped = (r & 0xffffffffL & ~RSEQ4J_INDEX_MASK) == RSEQ4J_INDEXED_COMMITTED;
            done += popped;
            if (holding) done += put_back(s, a, held, 1);
            holding = popped;
            if (popped) held[0] = (long) ((unsigned long) r >> 32);
            break;
        }
        case W_ARRAY_COPY: {        /* a batch out, then the batch taken before back in */
            long got[ARRAY_BATCH];
            int out = RETRY(s->aout(D(a), W(a, WORD), W(a, ARRAY_SLOTS), ELEMENTS, ARRAY_BATCH, (long) got)) == COMMITTED;
            done += out;
            if (holding) done += put_back(s, a, held, ARRAY_BATCH);
            holding = out;
            if (out) memcpy(held, got, sizeof got);
            break;
        }
        case W_LIST: {
            long node = RETRY(s->pop(D(a), W(a, WORD), 0, first, last, NODE_SIZE - 1));
            if (node >= 4096) {
                RETRY(s->push(D(a), W(a, WORD), node, 0));
                done += 2;
            }
            break;
        }
        case W_TRYSTORE: {
            int here = current(s);
            long n = lp(a, here, WORD);
            done += RETRY(s->trystore(D(a), here, W(a, WORD), n, W(a, RING + (n % SLOTS) * 8), n + 1, n + 1)) == COMMITTED;
            break;
        }
        case W_MEMCPY: {
            int here = current(s);
            long n = lp(a, here, WORD);
            record[0] = n; record[1] = n * 31; record[2] = ~n;
            done += RETRY(s->copy(D(a), here, W(a, WORD), n, W(a, RING + (n % SLOTS) * RECORD), header(type_id(n), PAYLOAD),
                                  (long) record, n + 1)) == COMMITTED;
            break;
        }
        }
    }
    if (holding) done += put_back(s, a, held, t->w == W_ARRAY ? 1 : ARRAY_BATCH);
    return (void *) done;
}

static void on_signal(int sig) { (void) sig; }

static long lost(struct torture *t, long total) {
    struct area *a = t->a;
    long bad = 0;
    switch (t->w) {
    case W_ADD: case W_CAS: case W_TAKE: case W_RESERVE:
        return labs(total - sum(a, WORD));
    case W_BATCH:
        return labs(total - sum(a, BATCH_WORD)) + labs(2 * total - sum(a, BATCH_WORD + 8))
               + labs(3 * total - sum(a, BATCH_WORD + 16));
    case W_LIST: {
        char seen[NODES] = {0};
        long found = 0;
        for (int r = 0; r < REGIONS; r++) {
            long p = lp(a, r, WORD);
            for (int steps = 0; p != 0 && steps <= NODES; steps++) {
                long i = (p - (long) t->nodes) / NODE_SIZE;
                if (i < 0 || i >= NODES || seen[i]) { bad++; break; }
                seen[i] = 1;
                found++;
                p = *(long *) p;
            }
        }
        return NODES - found + bad;
    }
    case W_ARRAY: case W_ARRAY_COPY: {     /* every element exactly once across all regions' stacks */
        char seen[ELEMENTS] = {0};
        long found = 0;
        for (int r = 0; r < REGIONS; r++) {
            long count = lp(a, r, WORD);
            if (count < 0 || count > ELEMENTS) { bad++; continue; }
            for (long i = 0; i < count; i++) {
                int e = element_index(lp(a, r, ARRAY_SLOTS + 8 * i));
                if (e < 0 || seen[e]) { bad++; continue; }
                seen[e] = 1;
                found++;
            }
        }
        return ELEMENTS - found + bad;
    }
    default:
        for (int r = 0; r < REGIONS; r++) {
            long count = lp(a, r, WORD);
            for (long n = count - SLOTS + 1 < 0 ? 0 : count - SLOTS + 1; n < count; n++) {
                long *slot = at(a, r, t->w == W_TRYSTORE ? RING + (n % SLOTS) * 8 : RING + (n % SLOTS) * RECORD);
                bad += t->w == W_TRYSTORE ? slot[0] != n + 1
                       : slot[0] != header(type_id(n), PAYLOAD) || slot[1] != n || slot[2] != n * 31 || slot[3] != ~n;
            }
        }
        return labs(total - sum(a, WORD)) + bad;
    }
}

struct outcome { int threads; long total, lost, aborts, partials; };

/* One run of a workload from 2 x CPUs threads, on a fresh area. */
static struct outcome run_torture(const struct stubs *s, enum workload w, enum stressor st) {
    int threads = 2 * (int) sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 4) threads = 4;
    struct torture t = {.s = s, .w = w, .a = area_new(), .pinned = st == S_PINNED};
    t.nodes = aligned_alloc(64, NODES * NODE_SIZE);
    for (int r = 0; r < REGIONS; r++) *at(t.a, r, WORD + 8) = 1L << 62;   /* the reservation's limit */
    memset(t.nodes, 0, NODES * NODE_SIZE);
    if (w == W_LIST) {               /* every node on a list the workers can reach before they start */
        cpu_set_t all, cpu0;
        sched_getaffinity(0, sizeof all, &all);
        CPU_ZERO(&cpu0);
        CPU_SET(0, &cpu0);
        if (t.pinned) sched_setaffinity(0, sizeof cpu0, &cpu0);
        for (int i = 0; i < NODES; i++) RETRY(s->push(D(t.a), W(t.a, WORD), (long) t.nodes + i * NODE_SIZE, 0));
        if (t.pinned) sched_setaffinity(0, sizeof all, &all);
    }
    if (w == W_ARRAY || w == W_ARRAY_COPY) {   /* ELEMENTS / REGIONS on every region's stack (at least a batch) */
        for (int r = 0; r < REGIONS; r++) {
            *at(t.a, r, WORD) = ELEMENTS / REGIONS;
            for (int i = 0; i < ELEMENTS / REGIONS; i++) *at(t.a, r, ARRAY_SLOTS + 8 * i) = element(r * (ELEMENTS / REGIONS) + i);
        }
    }
    atomic_store(&aborts, 0);
    atomic_store(&partials, 0);
    pthread_t tids[64];
    for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, worker, &t);
    struct timespec end, now, pause = {0, 200000};
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_nsec += TORTURE_MS * 1000000L;
    end.tv_sec += end.tv_nsec / 1000000000L;
    end.tv_nsec %= 1000000000L;
    do {
        if (st == S_SIGNALS) {
            for (int i = 0; i < threads; i++) pthread_kill(tids[i], SIGUSR1);
        } else if (st == S_MEMBARRIER) {
            syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0);
        }
        nanosleep(&pause, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
    atomic_store(&t.stop, 1);
    long total = 0;
    for (int i = 0; i < threads; i++) {
        void *done;
        pthread_join(tids[i], &done);
        total += (long) done;
    }
    return (struct outcome) {threads, total, lost(&t, total), atomic_load(&aborts), atomic_load(&partials)};
}

/* Runs a workload and checks it; expect_loss is the negative control, run again (at most 4 runs in all)
 * while it has lost nothing: a loss depends on where preemption lands, and the check must see one. */
static void torture(const struct stubs *s, enum workload w, enum stressor st, int expect_loss) {
    struct outcome o;
    int rounds = 0;
    do {
        o = run_torture(s, w, st);
        rounds++;
    } while (expect_loss && o.lost == 0 && rounds < 4);
    int threads = o.threads;
    long total = o.total, l = o.lost, ab = o.aborts, pa = o.partials;
    char name[96];
    snprintf(name, sizeof name, "torture/%s/%s%s%s", s->name, workload_names[w], stressor_names[st],
             expect_loss ? "/negative-control" : "");
    if (expect_loss) {
        check(total > 0 && l > 0, name, "threads=%d ops=%ld aborts=%ld lost=%ld rounds=%d", threads, total, ab, l,
              rounds);
    } else if (w == W_BATCH) {      /* some aborts must have hit a later section, after an earlier one committed */
        check(total > 0 && ab > 0 && pa > 0 && l == 0, name, "threads=%d ops=%ld aborts=%ld partial=%ld lost=%ld",
              threads, total, ab, pa, l);
    } else {
        check(total > 0 && ab > 0 && l == 0, name, "threads=%d ops=%ld aborts=%ld lost=%ld", threads, total, ab, l);
    }
}

int main(void) {
    mount("proc", "/proc", "proc", 0, NULL);        /* CPU counts come from /proc and /sys */
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    struct utsname u;
    uname(&u);
    setvbuf(stdout, NULL, _IOLBF, 0);
    long feature = (long) getauxval(AT_RSEQ_FEATURE_SIZE);
    printf("HARNESS kernel=%s cpus=%ld rseq_offset=%ld rseq_size=%u feature_size=%ld\n", u.release,
           sysconf(_SC_NPROCESSORS_ONLN), (long) __rseq_offset, __rseq_size, feature);
    check(__rseq_offset == RSEQ4J_RSEQ_OFFSET && __rseq_size > 0, "registration",
          "rseq_offset=%ld expected=%ld rseq_size=%u", (long) __rseq_offset, RSEQ4J_RSEQ_OFFSET, __rseq_size);
    check(syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) == 0, "membarrier-register", "");
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);

    struct stubs cpu = install(blob("cpu")), cpu_delay = install(blob("cpu_delay")),
                 unarmed = install(blob("cpu_unarmed"));
    semantics(&cpu);
    for (enum workload w = W_ADD; w <= W_ARRAY_COPY; w++) torture(&cpu_delay, w, S_NONE, 0);
    torture(&cpu_delay, W_ADD, S_SIGNALS, 0);
    torture(&cpu_delay, W_ADD, S_MEMBARRIER, 0);
    torture(&cpu_delay, W_ADD, S_PINNED, 0);
    torture(&cpu_delay, W_LIST, S_PINNED, 0);
    for (enum workload w = W_ARRAY; w <= W_ARRAY_COPY; w++) {
        torture(&cpu_delay, w, S_SIGNALS, 0);
        torture(&cpu_delay, w, S_MEMBARRIER, 0);
        torture(&cpu_delay, w, S_PINNED, 0);
    }
    torture(&unarmed, W_ADD, S_NONE, 1);
    torture(&unarmed, W_BATCH, S_NONE, 1);
    torture(&unarmed, W_ARRAY, S_NONE, 1);
    torture(&unarmed, W_ARRAY_COPY, S_NONE, 1);
    if (feature >= 28) {
        struct stubs mmcid = install(blob("mmcid")), mmcid_delay = install(blob("mmcid_delay"));
        semantics(&mmcid);
        for (enum workload w = W_ADD; w <= W_ARRAY_COPY; w++) torture(&mmcid_delay, w, S_NONE, 0);
        torture(&mmcid_delay, W_ADD, S_PINNED, 0);
    } else {
        printf("MMCID unavailable: feature size %ld < 28\n", feature);
    }
    printf("RESULT kernel=%s checks=%d failures=%d\n", u.release, checks, failures);
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    return failures != 0;
}
