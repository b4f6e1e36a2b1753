/*
 * test_device_ring.c — the pools' bookkeeping (device_ring.h) without a GPU: the byte ring's contiguity, alignment,
 * wrap-around, FIFO reclamation with out-of-order releases, full and never-fits answers, and a long randomised run
 * checked against a model that tracks every byte; the job FIFO's counters.
 */
#include <stdlib.h>
#include <string.h>

#include "device_ring.h"
#include "tt_test.h"

static void test_basics(void)
{
    tt_ring r;
    CHECK_STATUS(tt_ring_init(&r, 1000, 256, 4), TT_E_INVAL); /* not a multiple of the alignment */
    CHECK_STATUS(tt_ring_init(&r, 1024, 3, 4), TT_E_INVAL);   /* alignment not a power of two */
    CHECK_STATUS(tt_ring_init(&r, 1024, 256, 0), TT_E_INVAL);
    CHECK_STATUS(tt_ring_init(&r, 1024, 256, 8), TT_OK);
    uint64_t off = 99;
    CHECK_STATUS(tt_ring_alloc(&r, 0, &off), TT_E_INVAL);
    CHECK_STATUS(tt_ring_alloc(&r, 1025, &off), TT_E_LIMIT);
    CHECK(!tt_ring_fits(&r, 1025));
    CHECK(tt_ring_fits(&r, 1024));
    CHECK_STATUS(tt_ring_alloc(&r, 1, &off), TT_OK); /* rounded up to 256 */
    CHECK_EQ_U64(off, 0);
    CHECK_EQ_U64(tt_ring_used(&r), 256);
    CHECK_STATUS(tt_ring_alloc(&r, 300, &off), TT_OK); /* 512 */
    CHECK_EQ_U64(off, 256);
    CHECK_STATUS(tt_ring_alloc(&r, 257, &off), TT_RING_FULL); /* 512 does not fit: 768 + 512 > 1024 */
    CHECK_STATUS(tt_ring_alloc(&r, 256, &off), TT_OK);
    CHECK_EQ_U64(off, 768);
    tt_ring_destroy(&r);
}

static void test_wrap_and_order(void)
{
    tt_ring r;
    uint64_t a, b, c, d, e;
    CHECK_STATUS(tt_ring_init(&r, 1024, 256, 8), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &a), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 512, &b), TT_OK);
    CHECK_EQ_U64(a, 0);
    CHECK_EQ_U64(b, 256);
    /* 256 left at the end: a 512 request does not fit until `a` is released, then it wraps to 0 */
    CHECK_STATUS(tt_ring_alloc(&r, 512, &c), TT_RING_FULL);
    CHECK_STATUS(tt_ring_release(&r, a), TT_OK);
    CHECK_EQ_U64(tt_ring_used(&r), 512);
    CHECK_STATUS(tt_ring_alloc(&r, 512, &c), TT_RING_FULL); /* [0,256) free + [768,1024) free: not contiguous */
    CHECK_STATUS(tt_ring_alloc(&r, 256, &c), TT_OK);        /* the end */
    CHECK_EQ_U64(c, 768);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &d), TT_OK); /* wraps to the start */
    CHECK_EQ_U64(d, 0);
    CHECK_EQ_U64(tt_ring_used(&r), 1024);
    CHECK_STATUS(tt_ring_alloc(&r, 1, &e), TT_RING_FULL);
    /* releasing out of order: c and d first; b still holds the read position */
    CHECK_STATUS(tt_ring_release(&r, c), TT_OK);
    CHECK_STATUS(tt_ring_release(&r, d), TT_OK);
    CHECK_EQ_U64(tt_ring_used(&r), 1024);
    CHECK_STATUS(tt_ring_alloc(&r, 1, &e), TT_RING_FULL);
    CHECK_STATUS(tt_ring_release(&r, c), TT_E_NOTFOUND); /* released already */
    CHECK_STATUS(tt_ring_release(&r, 12345), TT_E_NOTFOUND);
    CHECK_STATUS(tt_ring_release(&r, b), TT_OK);
    CHECK_EQ_U64(tt_ring_used(&r), 0);
    CHECK_EQ_INT(tt_ring_live(&r), 0);
    /* an empty ring starts over: the whole capacity is contiguous again */
    CHECK_STATUS(tt_ring_alloc(&r, 1024, &e), TT_OK);
    CHECK_EQ_U64(e, 0);
    CHECK_STATUS(tt_ring_release(&r, e), TT_OK);
    tt_ring_destroy(&r);
}

static void test_skipped_end(void)
{
    /* an allocation that skips the end of the ring is charged for it, and gives it back when released */
    tt_ring r;
    uint64_t a, b, c;
    CHECK_STATUS(tt_ring_init(&r, 1024, 256, 8), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 768, &a), TT_OK);
    CHECK_STATUS(tt_ring_release(&r, a), TT_OK); /* empty: restarts at 0 */
    CHECK_STATUS(tt_ring_alloc(&r, 512, &a), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &b), TT_OK);
    CHECK_EQ_U64(b, 512);
    CHECK_STATUS(tt_ring_release(&r, a), TT_OK); /* [0,512) free, [768,1024) free */
    CHECK_STATUS(tt_ring_alloc(&r, 512, &c), TT_OK);
    CHECK_EQ_U64(c, 0); /* skips [768,1024) */
    CHECK_EQ_U64(tt_ring_used(&r), 256 + 256 + 512);
    CHECK_STATUS(tt_ring_release(&r, b), TT_OK);
    CHECK_EQ_U64(tt_ring_used(&r), 768); /* c still holds the end it skipped */
    CHECK_STATUS(tt_ring_release(&r, c), TT_OK);
    CHECK_EQ_U64(tt_ring_used(&r), 0);
    tt_ring_destroy(&r);
}

static void test_record_limit(void)
{
    tt_ring r;
    uint64_t o[3];
    CHECK_STATUS(tt_ring_init(&r, 4096, 256, 2), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &o[0]), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &o[1]), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &o[2]), TT_RING_FULL); /* room, but no record */
    CHECK_STATUS(tt_ring_release(&r, o[1]), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &o[2]), TT_RING_FULL); /* o[1]'s record is freed but not reclaimed */
    CHECK_STATUS(tt_ring_release(&r, o[0]), TT_OK);
    CHECK_STATUS(tt_ring_alloc(&r, 256, &o[2]), TT_OK);
    tt_ring_destroy(&r);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A long random run: live ranges never overlap, stay inside the ring, are aligned; the ring never reports full
 * while it is empty; used equals the sum of live spans; everything comes back. */
static void test_random(void)
{
    enum { CAP = 64 * 1024, MAXLIVE = 64, STEPS = 200000 };
    tt_ring r;
    CHECK_STATUS(tt_ring_init(&r, CAP, 256, MAXLIVE), TT_OK);
    struct {
        uint64_t off, len;
    } live[MAXLIVE];
    int nlive = 0, bad = 0;
    uint64_t seed = 0x1234567;
    unsigned char owner[CAP];
    memset(owner, 0, sizeof owner);
    for (int step = 0; step < STEPS && !bad; step++) {
        if (nlive && (rnd(&seed) % 2 || nlive == MAXLIVE)) {
            int k = (int)(rnd(&seed) % (uint64_t)nlive); /* any live range: out-of-order releases */
            if (tt_ring_release(&r, live[k].off) != TT_OK)
                bad = 1;
            memset(owner + live[k].off, 0, live[k].len);
            live[k] = live[--nlive];
        } else {
            uint64_t n = 1 + rnd(&seed) % (CAP / 4);
            uint64_t off;
            int rc = tt_ring_alloc(&r, n, &off);
            if (rc == TT_RING_FULL) {
                if (nlive == 0)
                    bad = 2;
                continue;
            }
            if (rc != TT_OK) {
                bad = 3;
                break;
            }
            uint64_t len = (n + 255) & ~(uint64_t)255;
            if (off % 256 || off + len > CAP)
                bad = 4;
            for (uint64_t i = 0; i < len && !bad; i++)
                if (owner[off + i])
                    bad = 5;
            memset(owner + off, 1, len);
            live[nlive].off = off;
            live[nlive].len = len;
            nlive++;
        }
        if (tt_ring_live(&r) < (uint32_t)nlive)
            bad = 6;
    }
    CHECK_EQ_INT(bad, 0);
    while (nlive)
        CHECK_STATUS(tt_ring_release(&r, live[--nlive].off), TT_OK);
    CHECK_EQ_U64(tt_ring_used(&r), 0);
    tt_ring_destroy(&r);
}

static void test_fifo(void)
{
    tt_fifo f = {0, 0, 0, 4};
    CHECK(!tt_fifo_full(&f));
    f.admitted = 4;
    CHECK(tt_fifo_full(&f));
    f.copied = 4;
    CHECK(tt_fifo_full(&f)); /* copied is not done */
    f.done = 1;
    CHECK(!tt_fifo_full(&f));
    CHECK_EQ_INT(tt_fifo_slot(&f, 4), 0);
    CHECK_EQ_INT(tt_fifo_slot(&f, 7), 3);
    /* the counters are 64-bit: no wrap in practice, and slot() stays right far out */
    f.njobs = 1000;
    CHECK_EQ_INT(tt_fifo_slot(&f, (uint64_t)1 << 40), (int)(((uint64_t)1 << 40) % 1000));
}

int main(void)
{
    test_basics();
    test_wrap_and_order();
    test_skipped_end();
    test_record_limit();
    test_random();
    test_fifo();
    return tt_test_exit();
}
