/* SPDX-License-Identifier: MIT */
/*  Unit tests for slotlist: the gateway's dirty, stalled and throttled
    lists. The case that broke the old arrays: every slot listed, and each
    one listed again by the handler while the pass runs (a throttled
    client that is still over its rate), plus closes and slot reuse in the
    middle of a pass. The list must never hold more entries than slots,
    nor a slot twice. Run under ASan an overflow shows at once.           */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "slotlist.h"

/*  The members in order, walked with a pass that changes nothing.       */
static size_t
members (slotlist_t *list, uint32_t *out)
{
    size_t   n = 0;
    uint32_t slot;
    slotlist_begin (list);
    while (slotlist_next (list, &slot))
        out [n++] = slot;
    slotlist_end (list);
    return n;
}

/*  What must hold between operations: entries within capacity, size
    right, each member once and has() agreeing.                          */
static void
assert_sound (slotlist_t *list)
{
    assert_true (list->count <= list->capacity);
    uint32_t *seen = calloc (list->capacity + 1, sizeof *seen);
    uint32_t *order = calloc (list->capacity + 1, sizeof *order);
    size_t    n = members (list, order);
    assert_int_equal (n, slotlist_size (list));
    for (size_t i = 0; i < n; i++) {
        assert_true (order [i] < list->capacity);
        assert_int_equal (seen [order [i]], 0);
        seen [order [i]] = 1;
    }
    for (uint32_t slot = 0; slot < list->capacity; slot++)
        assert_int_equal (slotlist_has (list, slot), seen [slot] == 1);
    free (seen);
    free (order);
}

/*  A list of capacity slots, 0 to capacity - 1 all listed, in order.     */
static void
s_list_every_slot (slotlist_t *list, uint32_t capacity)
{
    slotlist_init (list, capacity);
    for (uint32_t slot = 0; slot < capacity; slot++)
        assert_true (slotlist_add (list, slot));
}

static void
test_add_is_once (void **state)
{
    (void) state;
    slotlist_t list;
    slotlist_init (&list, 4);
    assert_int_equal (slotlist_size (&list), 0);
    assert_true (slotlist_add (&list, 2));
    assert_false (slotlist_add (&list, 2));
    assert_true (slotlist_add (&list, 0));
    assert_true (slotlist_has (&list, 2));
    assert_false (slotlist_has (&list, 1));
    assert_false (slotlist_has (&list, 7));  //  Out of range: not in
    assert_int_equal (slotlist_size (&list), 2);
    uint32_t order [4];
    assert_int_equal (members (&list, order), 2);
    assert_int_equal (order [0], 2);
    assert_int_equal (order [1], 0);
    assert_true (slotlist_remove (&list, 2));
    assert_false (slotlist_remove (&list, 2));
    assert_false (slotlist_remove (&list, 3));
    assert_int_equal (slotlist_size (&list), 1);
    assert_sound (&list);
    slotlist_free (&list);
}

/*  The gateway's crash: every slot throttled, and each one throttled
    again by its handler during the pass. Each is visited once, the list
    ends with every slot once, in the same order, and never overflows.   */
static void
s_relist_every_slot (size_t capacity)
{
    slotlist_t list;
    slotlist_init (&list, capacity);
    for (uint32_t slot = 0; slot < capacity; slot++)
        assert_true (slotlist_add (&list, (uint32_t) (capacity - 1 - slot)));
    for (int pass = 0; pass < 3; pass++) {
        uint32_t *visits = calloc (capacity, sizeof *visits);
        uint32_t  slot;
        size_t    visited = 0;
        slotlist_begin (&list);
        while (slotlist_next (&list, &slot)) {
            assert_int_equal (slot, capacity - 1 - visited);
            visits [slot]++;
            visited++;
            assert_true (slotlist_remove (&list, slot));
            assert_true (slotlist_add (&list, slot));  //  Listed again
            assert_false (slotlist_add (&list, slot));
            assert_true (list.count <= capacity);
        }
        slotlist_end (&list);
        assert_int_equal (visited, capacity);
        for (size_t i = 0; i < capacity; i++)
            assert_int_equal (visits [i], 1);
        free (visits);
        assert_int_equal (slotlist_size (&list), capacity);
        assert_sound (&list);
    }
    slotlist_free (&list);
}

static void
test_relisting_every_slot_during_a_pass (void **state)
{
    (void) state;
    s_relist_every_slot (1);
    s_relist_every_slot (2);
    s_relist_every_slot (10);
    s_relist_every_slot (1000);
}

/*  A handler that lists the visited slot again without taking it out
    first changes nothing: it is still in, once.                         */
static void
test_add_during_a_pass_of_a_member (void **state)
{
    (void) state;
    slotlist_t list;
    s_list_every_slot (&list, 3);
    uint32_t slot;
    size_t   visited = 0;
    slotlist_begin (&list);
    while (slotlist_next (&list, &slot)) {
        assert_false (slotlist_add (&list, slot));
        visited++;
    }
    slotlist_end (&list);
    assert_int_equal (visited, 3);
    assert_sound (&list);
    slotlist_free (&list);
}

/*  Closes in the middle of a pass: slots not visited yet are taken out
    (the connection closed) and their slots reused at once by new clients
    that are listed too. The pass skips the closed ones, does not visit
    the newcomers (they wait for the next pass) and never sees a slot
    twice; the next pass sees the newcomers at the end.                  */
static void
test_close_and_reuse_during_a_pass (void **state)
{
    (void) state;
    enum { SLOTS = 8 };
    slotlist_t list;
    s_list_every_slot (&list, SLOTS);
    uint32_t slot, visited [SLOTS * 2];
    size_t   n = 0;
    slotlist_begin (&list);
    while (slotlist_next (&list, &slot)) {
        visited [n++] = slot;
        if (slot == 1) {
            //  5 and 6 close; 5's slot is reused and listed; 6 stays out.
            assert_true (slotlist_remove (&list, 5));
            assert_true (slotlist_remove (&list, 6));
            assert_true (slotlist_add (&list, 5));
            //  And 1 itself is done with.
            assert_true (slotlist_remove (&list, 1));
        }
        if (slot == 3) {
            //  Fill up to capacity again while the pass runs.
            assert_true (slotlist_add (&list, 6));
            assert_true (slotlist_add (&list, 1));
            assert_int_equal (slotlist_size (&list), SLOTS);
            assert_true (list.count <= SLOTS);
        }
    }
    slotlist_end (&list);
    uint32_t want [] = {0, 1, 2, 3, 4, 7};
    assert_int_equal (n, sizeof want / sizeof want [0]);
    assert_memory_equal (visited, want, sizeof want);
    uint32_t order [SLOTS];
    assert_int_equal (members (&list, order), SLOTS);
    uint32_t after [] = {0, 2, 3, 4, 7, 5, 6, 1};
    assert_memory_equal (order, after, sizeof after);
    assert_sound (&list);
    slotlist_free (&list);
}

/*  A pass stopped early (the hub queue filled up again) leaves the rest
    in place and in order.                                               */
static void
test_a_pass_stopped_early (void **state)
{
    (void) state;
    slotlist_t list;
    s_list_every_slot (&list, 5);
    uint32_t slot;
    slotlist_begin (&list);
    assert_true (slotlist_next (&list, &slot));
    assert_int_equal (slot, 0);
    slotlist_remove (&list, 0);
    assert_true (slotlist_next (&list, &slot));
    assert_int_equal (slot, 1);
    slotlist_remove (&list, 1);
    slotlist_add (&list, 1);  //  Stalled again
    slotlist_end (&list);
    uint32_t order [5], want [] = {2, 3, 4, 1};
    assert_int_equal (members (&list, order), 4);
    assert_memory_equal (order, want, sizeof want);
    slotlist_free (&list);
}

/*  Many closes between passes leave stale entries; adds past them never
    outgrow the array (they compact it).                                 */
static void
test_churn_between_passes_stays_in_bounds (void **state)
{
    (void) state;
    enum { SLOTS = 4 };
    slotlist_t list;
    slotlist_init (&list, SLOTS);
    for (int round = 0; round < 100; round++) {
        for (uint32_t slot = 0; slot < SLOTS; slot++) {
            slotlist_add (&list, slot);
            assert_true (list.count <= SLOTS);
        }
        slotlist_remove (&list, (uint32_t) (round % SLOTS));
        slotlist_remove (&list, (uint32_t) ((round + 2) % SLOTS));
        assert_sound (&list);
    }
    slotlist_free (&list);
}

/*  Random adds, removes and passes whose handler takes, lists again,
    closes and reuses other slots, checked against a plain model: the
    members in order. Fixed seed: the same run each time.                */
static uint32_t s_seed = 12345;
static uint32_t
s_random (uint32_t below)
{
    s_seed = s_seed * 1103515245u + 12345u;
    return (s_seed >> 16) % below;
}

typedef struct {
    uint32_t order [64];
    size_t   size;
} model_t;

static bool
model_has (const model_t *m, uint32_t slot)
{
    for (size_t i = 0; i < m->size; i++)
        if (m->order [i] == slot)
            return true;
    return false;
}

static void
model_add (model_t *m, uint32_t slot)
{
    if (!model_has (m, slot))
        m->order [m->size++] = slot;
}

static void
model_remove (model_t *m, uint32_t slot)
{
    for (size_t i = 0; i < m->size; i++)
        if (m->order [i] == slot) {
            memmove (m->order + i, m->order + i + 1, (m->size - i - 1) * sizeof (uint32_t));
            m->size--;
            return;
        }
}

static void
assert_matches (slotlist_t *list, const model_t *m)
{
    uint32_t order [64];
    assert_true (list->count <= list->capacity);
    assert_int_equal (members (list, order), m->size);
    assert_memory_equal (order, m->order, m->size * sizeof (uint32_t));
}

static void
test_random_against_a_model (void **state)
{
    (void) state;
    for (uint32_t capacity = 1; capacity <= 64; capacity *= 4) {
        slotlist_t list;
        model_t    model = {.size = 0};
        slotlist_init (&list, capacity);
        for (int step = 0; step < 3000; step++) {
            uint32_t slot = s_random (capacity);
            uint32_t what = s_random (10);
            if (what < 4) {
                assert_int_equal (slotlist_add (&list, slot), !model_has (&model, slot));
                model_add (&model, slot);
            } else if (what < 6) {
                assert_int_equal (slotlist_remove (&list, slot), model_has (&model, slot));
                model_remove (&model, slot);
            } else {
                //  A pass: the model's snapshot is what it must visit,
                //  minus what the handlers take out before their turn.
                model_t  snapshot = model;
                bool     taken [64] = {false};
                size_t   next = 0;
                uint32_t got;
                slotlist_begin (&list);
                while (slotlist_next (&list, &got)) {
                    while (next < snapshot.size && (taken [snapshot.order [next]] ||
                                                    !model_has (&model, snapshot.order [next])))
                        next++;
                    assert_true (next < snapshot.size);
                    assert_int_equal (got, snapshot.order [next]);
                    next++;
                    if (s_random (2)) {
                        slotlist_remove (&list, got);
                        model_remove (&model, got);
                        taken [got] = true;
                        if (s_random (2)) {
                            slotlist_add (&list, got);
                            model_add (&model, got);
                        }
                    }
                    //  Some other slot closes, or is reused and listed.
                    uint32_t other = s_random (capacity);
                    if (s_random (3) == 0) {
                        slotlist_remove (&list, other);
                        model_remove (&model, other);
                        taken [other] = true;
                    } else if (s_random (3) == 0 && !model_has (&model, other)) {
                        slotlist_add (&list, other);
                        model_add (&model, other);
                        taken [other] = true;
                    }
                    assert_true (list.count <= capacity);
                    if (s_random (20) == 0)
                        break;
                }
                slotlist_end (&list);
            }
            assert_matches (&list, &model);
        }
        slotlist_free (&list);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_add_is_once),
        cmocka_unit_test (test_relisting_every_slot_during_a_pass),
        cmocka_unit_test (test_add_during_a_pass_of_a_member),
        cmocka_unit_test (test_close_and_reuse_during_a_pass),
        cmocka_unit_test (test_a_pass_stopped_early),
        cmocka_unit_test (test_churn_between_passes_stays_in_bounds),
        cmocka_unit_test (test_random_against_a_model),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
