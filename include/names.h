/* SPDX-License-Identifier: MIT */
/*  names: the rules for user names and room names.

    User name (judged as typed, after the caller trimmed it): 1 to 32
    characters (UTF-8 code points), valid UTF-8, every character printable
    (no C0, DEL, C1 control), no whitespace anywhere (ASCII space, TAB,
    U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
    U+3000), no invisible or format character (Unicode's general category
    Cf, Default_Ignorable_Code_Point, Bidi_Control, and U+2800: ZWSP,
    ZWJ, ZWNJ, BOM, soft hyphen, word joiner, bidi overrides, variation
    selectors, Hangul fillers, ...: they let one name pass for another),
    and not starting with '/'. Uniqueness is the hub's business, with
    name_confusables below for names that look alike.
    Room name: 1 to 32 bytes of A-Z a-z 0-9 _ -.
    Both are compared ignoring ASCII case: name_fold() makes the key.     */
#ifndef TCPCHAT_NAMES_H
#define TCPCHAT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_CHARS 32
#define NAME_MAX_BYTES (NAME_MAX_CHARS * 4)
#define ROOM_MAX_CHARS 32

/*  NULL when acceptable, else a one-line reason for the user (no '\n'),
    one of protocol.h's texts. Checked in this order, first problem wins:
      name_problem:      PROTOCOL_NAME_EMPTY, PROTOCOL_NAME_TOO_LONG,
                         PROTOCOL_NAME_UNPRINTABLE, PROTOCOL_NAME_SPACES,
                         PROTOCOL_NAME_INVISIBLE, PROTOCOL_NAME_SLASH
      room_name_problem: PROTOCOL_ROOM_EMPTY, PROTOCOL_ROOM_TOO_LONG,
                         PROTOCOL_ROOM_CHARS                              */
const char *name_problem (const char *s, size_t len);
const char *room_name_problem (const char *s, size_t len);

/*  Copies s to out (capacity len + 1) with ASCII letters lowered, NUL
    terminated. The result is the key for case-insensitive comparisons.   */
void name_fold (const char *s, size_t len, char *out);

/*  Names that look alike: Unicode UTS #39 skeletons (ICU's spoof checker).
    Two names are confusable when one of their two keys is equal: key 0 is
    the skeleton of the case-folded name ("АLICE" with a Cyrillic А and
    "alice"), key 1 the case-folded skeleton ("AIice" with a capital I
    and "alice"). ICU's checker is not to be shared between threads: each
    owner makes its own.                                                  */
typedef struct name_confusables_t name_confusables_t;
#define NAME_KEY_MAX 1024

name_confusables_t *name_confusables_new (void);
void                name_confusables_destroy (name_confusables_t **self_p);
/*  Writes key `which` (0 or 1) of the name s (valid UTF-8) to out
    (NAME_KEY_MAX bytes), NUL terminated. Should ICU fail, the key is the
    name folded as name_fold does, so the check is never skipped.        */
void name_confusable_key (name_confusables_t *self, int which, const char *s, size_t len,
                          char out [NAME_KEY_MAX]);

#endif
