/* SPDX-License-Identifier: MIT */
/*  Unit tests for names.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "names.h"

#define EMPTY         "Name cannot be empty."
#define TOO_LONG      "Name is too long (max 32 characters)."
#define UNPRINTABLE   "Name can only contain printable characters."
#define SPACES        "Name cannot contain spaces."
#define SLASH         "Name cannot start with '/'."
#define INVISIBLE     "Name cannot contain invisible or formatting characters."
#define ROOM_EMPTY    "Room name cannot be empty."
#define ROOM_TOO_LONG "Room name is too long (max 32 characters)."
#define ROOM_CHARSET  "Room name can only contain letters, digits, '_' and '-'."

/*  check (s, len), a name or a room name (`what`), gives `want` (NULL:
    accepted).                                                           */
static void
expect_verdict (const char *(*check) (const char *, size_t), const char *what, const char *s,
                size_t len, const char *want)
{
    const char *got = check (s, len);
    if (want == NULL && got == NULL)
        return;
    if (want == NULL || got == NULL || strcmp (got, want) != 0)
        fail_msg ("%s \"%.*s\": got \"%s\", want \"%s\"", what, (int) len, s, got ? got : "(ok)",
                  want ? want : "(ok)");
}
#define expect_problem_n(s, len, want) expect_verdict (name_problem, "name", (s), (len), (want))
#define expect_problem(lit, want)      expect_problem_n ((lit), sizeof (lit) - 1, (want))
#define expect_room_n(s, len, want)    expect_verdict (room_name_problem, "room", (s), (len), (want))
#define expect_room(lit, want)         expect_room_n ((lit), sizeof (lit) - 1, (want))

/*  The name before + ch + after gives want.                           */
static void
expect_around (const char *before, const char *ch, const char *after, const char *want)
{
    char   s [32];
    size_t len = (size_t) snprintf (s, sizeof s, "%s%s%s", before, ch, after);
    assert_true (len < sizeof s);
    expect_problem_n (s, len, want);
}

/*  count copies of the UTF-8 character ch, in out.                      */
static size_t
repeat (char *out, const char *ch, size_t count)
{
    size_t n = strlen (ch);
    for (size_t i = 0; i < count; i++)
        memcpy (out + i * n, ch, n);
    return count * n;
}

static void
test_good_names (void **state)
{
    (void) state;
    expect_problem ("alice", NULL);
    expect_problem ("Bob_42", NULL);
    expect_problem ("a", NULL);
    expect_problem ("x/y", NULL);
    expect_problem ("\xc3\xa9lodie", NULL);              /* élodie */
    expect_problem ("\xe6\x97\xa5\xe6\x9c\xac", NULL);   /* 日本 */
    expect_problem ("\xf0\x9f\x98\x80", NULL);           /* 😀 */
    expect_problem ("zero\xe2\x80\x8bwidth", INVISIBLE); /* U+200B hides */
}

static void
test_empty (void **state)
{
    (void) state;
    expect_problem_n ("", 0, EMPTY);
    expect_problem_n (NULL, 0, EMPTY);
}

static void
test_length_in_characters (void **state)
{
    (void) state;
    char s [40 * 4];
    expect_problem_n (s, repeat (s, "a", 32), NULL);
    expect_problem_n (s, repeat (s, "a", 33), TOO_LONG);
    expect_problem_n (s, repeat (s, "\xc3\xa9", 32), NULL); /* 64 bytes */
    expect_problem_n (s, repeat (s, "\xc3\xa9", 33), TOO_LONG);
    expect_problem_n (s, repeat (s, "\xe2\x82\xac", 32), NULL);
    expect_problem_n (s, repeat (s, "\xf0\x9f\x98\x80", 32), NULL); /* 128 bytes */
    expect_problem_n (s, repeat (s, "\xf0\x9f\x98\x80", 33), TOO_LONG);
    size_t n = repeat (s, "\xc3\xa9", 31);
    n += repeat (s + n, "ab", 1);
    expect_problem_n (s, n, TOO_LONG); /* 33 */
}

static void
test_too_long_wins (void **state)
{
    (void) state;
    char s [60];
    memset (s, 'a', sizeof s);
    s [0] = '/';
    s [5] = ' ';
    s [7] = '\x01';
    expect_problem_n (s, 33, TOO_LONG);
    expect_problem_n (s, 32, UNPRINTABLE);
}

static void
test_unprintable (void **state)
{
    (void) state;
    for (int c = 0; c < 0x20; c++) {
        if (c == '\t')
            continue;
        char s [] = {'a', (char) c, 'b'};
        expect_problem_n (s, sizeof s, UNPRINTABLE);
    }
    expect_problem ("a\x7f"
                    "b",
                    UNPRINTABLE);
    expect_problem ("a\xc2\x80", UNPRINTABLE); /* U+0080 */
    expect_problem ("a\xc2\x85", UNPRINTABLE); /* NEL */
    expect_problem ("a\xc2\x9f", UNPRINTABLE); /* U+009F */
    expect_problem ("a\x1b[31m", UNPRINTABLE);
}

static void
test_invalid_utf8_is_unprintable (void **state)
{
    (void) state;
    expect_problem ("\xff", UNPRINTABLE);
    expect_problem ("bob\x80", UNPRINTABLE);
    expect_problem ("bob\xc3", UNPRINTABLE);      /* truncated */
    expect_problem ("\xc0\xaf", UNPRINTABLE);     /* overlong '/' */
    expect_problem ("\xed\xa0\x80", UNPRINTABLE); /* surrogate */
    expect_problem ("\xf4\x90\x80\x80", UNPRINTABLE);
}

static void
test_unprintable_wins_over_spaces (void **state)
{
    (void) state;
    expect_problem ("/a b\x01", UNPRINTABLE);
}

static void
test_spaces (void **state)
{
    (void) state;
    const char *spaces [] = {" ",
                             "\t",
                             "\xc2\xa0",
                             "\xe1\x9a\x80",
                             "\xe2\x80\x80",
                             "\xe2\x80\x85",
                             "\xe2\x80\x8a",
                             "\xe2\x80\xa8",
                             "\xe2\x80\xa9",
                             "\xe2\x80\xaf",
                             "\xe2\x81\x9f",
                             "\xe3\x80\x80"};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces [0]; i++) {
        expect_around ("ab", spaces [i], "cd", SPACES);
        expect_around ("", spaces [i], "cd", SPACES); /* leading */
        expect_around ("ab", spaces [i], "", SPACES); /* trailing */
    }
    /*  Neighbours of the listed ranges are fine.                       */
    expect_problem ("a\xe1\x9a\x81"
                    "b",
                    NULL); /* U+1681 */
    expect_problem ("a\xc2\xa1"
                    "b",
                    NULL); /* U+00A1 */
}

/*  Characters that hide, or make one name pass for another.            */
static void
test_invisible_and_format (void **state)
{
    (void) state;
    const char *hidden [] = {
        "\xe2\x80\x8b",     /* U+200B zero width space */
        "\xe2\x80\x8c",     /* U+200C ZWNJ */
        "\xe2\x80\x8d",     /* U+200D ZWJ */
        "\xe2\x80\x8e",     /* U+200E LRM */
        "\xe2\x80\x8f",     /* U+200F RLM */
        "\xe2\x80\xaa",     /* U+202A LRE */
        "\xe2\x80\xae",     /* U+202E RLO */
        "\xe2\x81\xa0",     /* U+2060 word joiner */
        "\xe2\x81\xa6",     /* U+2066 LRI */
        "\xe2\x81\xa9",     /* U+2069 PDI */
        "\xe2\x81\xa4",     /* U+2064 invisible plus */
        "\xef\xbb\xbf",     /* U+FEFF BOM */
        "\xc2\xad",         /* U+00AD soft hyphen */
        "\xd8\x9c",         /* U+061C Arabic letter mark */
        "\xcd\x8f",         /* U+034F combining grapheme joiner */
        "\xef\xb8\x8f",     /* U+FE0F variation selector 16 */
        "\xe3\x85\xa4",     /* U+3164 Hangul filler */
        "\xef\xbe\xa0",     /* U+FFA0 halfwidth Hangul filler */
        "\xe2\xa0\x80",     /* U+2800 braille blank */
        "\xf3\xa0\x80\x81", /* U+E0001 language tag */
        "\xf0\x9d\x85\xb3", /* U+1D173 musical begin beam */
    };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden [0]; i++) {
        expect_around ("al", hidden [i], "ice", INVISIBLE);
        expect_around ("", hidden [i], "", INVISIBLE);    /* nothing but it */
        expect_around ("", hidden [i], "ice", INVISIBLE); /* leading */
    }
    /*  Visible neighbours are fine: U+00AC, U+2010 hyphen, U+FEFE.     */
    expect_problem ("a\xc2\xac"
                    "b",
                    NULL);
    expect_problem ("a\xe2\x80\x90"
                    "b",
                    NULL);
    expect_problem ("a\xef\xbb\xbe"
                    "b",
                    NULL);
    /*  Order: spaces are named first, the slash after.                 */
    expect_problem ("a b\xe2\x80\x8b", SPACES);
    expect_problem ("/\xe2\x80\x8b", INVISIBLE);
}

static void
expect_confusable (name_confusables_t *c, const char *a, const char *b, bool want)
{
    char ka [2][NAME_KEY_MAX], kb [2][NAME_KEY_MAX];
    bool same = false;
    for (int which = 0; which < 2; which++) {
        name_confusable_key (c, which, a, strlen (a), ka [which]);
        name_confusable_key (c, which, b, strlen (b), kb [which]);
        same = same || strcmp (ka [which], kb [which]) == 0;
    }
    if (same != want)
        fail_msg ("\"%s\" and \"%s\": confusable %d, want %d (keys \"%s\"/\"%s\", \"%s\"/\"%s\")",
                  a, b, same, want, ka [0], kb [0], ka [1], kb [1]);
}

static void
test_confusable_names (void **state)
{
    (void) state;
    name_confusables_t *c = name_confusables_new ();
    assert_non_null (c);
    expect_confusable (c, "alice", "\xd0\xb0lice", true); /* Cyrillic а */
    expect_confusable (c, "alice", "\xd0\x90LICE", true); /* Cyrillic А, upper */
    expect_confusable (c, "alice", "AIice", true);        /* capital I for l */
    expect_confusable (c, "alice", "a1ice", true);        /* digit 1 for l */
    expect_confusable (c, "paypal", "\xd1\x80\xd0\xb0y\xd1\x80\xd0\xb0l", true);
    expect_confusable (c, "bob", "BOB", true);
    expect_confusable (c, "rn", "m", true);
    expect_confusable (c, "\xef\xbd\x81lice", "alice", true); /* fullwidth a */
    expect_confusable (c, "alice", "bob", false);
    expect_confusable (c, "alice", "alicia", false);
    expect_confusable (c, "\xc3\xa9lodie", "elodie", false); /* é is not e */
    name_confusables_destroy (&c);
    assert_null (c);
    name_confusables_destroy (&c);
}

/*  Without a checker the key is the ASCII-folded name: the exact check
    still holds.                                                         */
static void
test_confusable_key_fallback (void **state)
{
    (void) state;
    char key [NAME_KEY_MAX];
    name_confusable_key (NULL, 0, "AlIce", 5, key);
    assert_string_equal (key, "alice");
}

static void
test_spaces_win_over_slash (void **state)
{
    (void) state;
    expect_problem ("/a b", SPACES);
}

static void
test_leading_slash (void **state)
{
    (void) state;
    expect_problem ("/bob", SLASH);
    expect_problem ("/", SLASH);
    expect_problem ("b/ob", NULL);
}

static void
test_room_names (void **state)
{
    (void) state;
    expect_room ("general", NULL);
    expect_room ("Room_42-b", NULL);
    expect_room ("_", NULL);
    expect_room ("-", NULL);
    expect_room_n ("", 0, ROOM_EMPTY);
    char s [40];
    memset (s, 'r', sizeof s);
    expect_room_n (s, 32, NULL);
    expect_room_n (s, 33, ROOM_TOO_LONG);
    s [0] = '!';
    expect_room_n (s, 33, ROOM_TOO_LONG);
    expect_room_n (s, 32, ROOM_CHARSET);
    const char *bad [] = {"a b",         "a.b",   "a/b", "a\tb", "#chan",
                          "caf\xc3\xa9", "a\x01", "@",   "[x]",  "a:b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        expect_room_n (bad [i], strlen (bad [i]), ROOM_CHARSET);
    for (int c = 0; c < 256; c++) {
        char one = (char) c;
        int  ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        expect_room_n (&one, 1, ok ? NULL : ROOM_CHARSET);
    }
}

static void
test_name_fold (void **state)
{
    (void) state;
    char out [32];
    memset (out, 'X', sizeof out);
    name_fold ("AlIcE_Z09", 9, out);
    assert_string_equal (out, "alice_z09");
    name_fold ("\xc3\x89LAN", 5, out); /* ÉLAN: only ASCII folds */
    assert_string_equal (out, "\xc3\x89lan");
    name_fold ("ab", 0, out);
    assert_string_equal (out, "");
    name_fold ("@[`{", 4, out); /* neighbours of A-Z, a-z */
    assert_string_equal (out, "@[`{");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_good_names),
        cmocka_unit_test (test_empty),
        cmocka_unit_test (test_length_in_characters),
        cmocka_unit_test (test_too_long_wins),
        cmocka_unit_test (test_unprintable),
        cmocka_unit_test (test_invalid_utf8_is_unprintable),
        cmocka_unit_test (test_unprintable_wins_over_spaces),
        cmocka_unit_test (test_spaces),
        cmocka_unit_test (test_invisible_and_format),
        cmocka_unit_test (test_confusable_names),
        cmocka_unit_test (test_confusable_key_fallback),
        cmocka_unit_test (test_spaces_win_over_slash),
        cmocka_unit_test (test_leading_slash),
        cmocka_unit_test (test_room_names),
        cmocka_unit_test (test_name_fold),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
