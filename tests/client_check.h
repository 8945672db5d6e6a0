/* SPDX-License-Identifier: MIT */
/*  client_check: what unit and end-to-end tests share to talk to a
    server over TCP: patterns with a timestamp marker, a TCP client that
    expects exact bytes within a deadline, and the watchdog.

    Patterns: CHECK_TS stands for one timestamp "YYYY-MM-DD HH:MM:SS"
    (CHECK_TS_LEN = 19 bytes, checked digit by digit, plausible values);
    every other byte must match itself. The server writes stamps in
    brackets, so a prompt is "[" CHECK_TS "][name]:". CHECK_TS holds an
    ESC, which the server never sends (it strips escapes): a pattern is
    never ambiguous. This is the one meaning of the marker everywhere.

    Clients: every wait is bounded (CHECK_WAIT_MS unless told otherwise).
    An expectation reads only the bytes it needs, so a test may mix them
    with raw calls on tcp_fd(). A failed expectation prints what was
    expected and what arrived, marks the cmocka test failed at the
    caller's line and jumps out of the test; tcp_close_all() in the
    test's teardown then closes what it left open.

    Watchdog: every wait is bounded, but a server or actor stuck in a
    loop could still hang a test's cleanup. check_watchdog_setup (a
    cmocka setup) arms an alarm; a test that outlives it ends the whole
    binary with a message and exit status 125.

    Only 127.0.0.1 and ::1 are ever contacted. Include after <cmocka.h>. */
#ifndef TCPCHAT_TEST_CLIENT_CHECK_H
#define TCPCHAT_TEST_CLIENT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHECK_TS         "\033TS" /* pattern: one "YYYY-MM-DD HH:MM:SS" */
#define CHECK_TS_LEN     19
#define CHECK_WAIT_MS    5000 /* for bytes we expect: generous, never flaky */
#define CHECK_WATCHDOG_S 120  /* a test this slow has hung (they take ms) */

/* ------------------------------------------------------------------ */
/*  Failing                                                            */

/*  Fails the test at file:line with a printf-style message (to stderr:
    cmocka's print_error cuts at 1024 bytes). Never returns.             */
__attribute__ ((noreturn, format (printf, 3, 4))) void check_fail_at (const char *file, int line,
                                                                      const char *fmt, ...);

/*  Bytes as a C string literal ("a\\n\\x01"), in memory the caller frees. */
char *check_escape (const char *p, size_t n);
/*  The same for at most 320 bytes around `at`, with "..." marks and the
    length, for failure messages. Valid for the next three calls.        */
const char *check_show (const char *p, size_t n, size_t at);

/* ------------------------------------------------------------------ */
/*  Patterns                                                           */

/*  True when s[0..n) starts with a well formed "YYYY-MM-DD HH:MM:SS".  */
bool check_is_stamp (const char *s, size_t n);
/*  The length a pattern matches.                                        */
size_t check_pattern_len (const char *pattern);
/*  Index of the first byte of s[0..n) that breaks the pattern (n when
    none does; s may be a prefix of what the pattern matches).           */
size_t check_mismatch (const char *pattern, const char *s, size_t n);
/*  True when s[0..n) matches the pattern exactly.                       */
bool check_match (const char *pattern, const char *s, size_t n);

/* ------------------------------------------------------------------ */
/*  Watchdog                                                           */

/*  (Re)arms the watchdog for seconds; stops it.                          */
void check_watchdog_arm (unsigned seconds);
void check_watchdog_stop (void);
/*  For cmocka: arms CHECK_WATCHDOG_S.                                   */
int check_watchdog_setup (void **state);

/* ------------------------------------------------------------------ */
/*  TCP clients                                                        */

typedef struct tcp_client tcp_client_t;

/*  A port nothing listens on right now (bound on the loopback and
    freed), -1 if none could be had.                                     */
int tcp_free_port (bool ipv6);
/*  True when ::1 can be used on this machine.                           */
bool tcp_have_ipv6 (void);
/*  A raw connect to 127.0.0.1 or ::1, bounded even when the server's
    backlog is full: the non-blocking socket, or -1 with errno set.
    rcvbuf > 0: the receive buffer, set before connecting so the window
    is small from the start. The caller closes it.                       */
int tcp_try_connect (int port, bool ipv6, int rcvbuf);

/*  The first byte the server sends on a raw socket, left unread; 0 when
    nothing comes within timeout_ms.                                     */
char tcp_first_byte (int fd, int timeout_ms);

/*  A connection that fails, fails the test. The client stays open until
    tcp_close, tcp_reset or tcp_close_all.                               */
#define tcp_connect(port, ipv6) tcp_connect_at ((port), (ipv6), 0, __FILE__, __LINE__)
tcp_client_t *tcp_connect_at (int port, bool ipv6, int rcvbuf, const char *file, int line);
/*  Closing: plain close (FIN), close with SO_LINGER 0 (RST); every
    client still open (a teardown's job, also after a failure).          */
void tcp_close (tcp_client_t *c);
void tcp_reset (tcp_client_t *c);
void tcp_close_all (void);

/*  The name failure messages give the client ("client 'alice'").       */
void        tcp_set_label (tcp_client_t *c, const char *label);
const char *tcp_label (const tcp_client_t *c);
int         tcp_fd (const tcp_client_t *c);
/*  The open client on fd (NULL if none): for tests that keep the raw
    descriptor as their handle.                                          */
tcp_client_t *tcp_by_fd (int fd);

/*  The whole buffer, within CHECK_WAIT_MS.                              */
#define tcp_send(c, str) tcp_send_at ((c), (str), strlen (str), __FILE__, __LINE__)
void tcp_send_at (tcp_client_t *c, const void *p, size_t n, const char *file, int line);

/*  The next bytes match the pattern, or are exactly p[0..n). Fails as
    soon as a byte cannot match (not after the timeout).                 */
#define tcp_expect(c, pattern) tcp_expect_at ((c), (pattern), __FILE__, __LINE__)
#define tcp_expect_n(c, p, n)  tcp_expect_n_at ((c), (p), (n), __FILE__, __LINE__)
void tcp_expect_at (tcp_client_t *c, const char *pattern, const char *file, int line);
void tcp_expect_n_at (tcp_client_t *c, const void *p, size_t n, const char *file, int line);
/*  Nothing arrives for ms milliseconds (and nothing is left unread).    */
#define tcp_expect_silence(c, ms) tcp_expect_silence_at ((c), (ms), __FILE__, __LINE__)
void tcp_expect_silence_at (tcp_client_t *c, int ms, const char *file, int line);
/*  The server closes the connection (clean EOF) with nothing before.   */
#define tcp_expect_eof(c) tcp_expect_eof_at ((c), __FILE__, __LINE__)
void tcp_expect_eof_at (tcp_client_t *c, const char *file, int line);

/*  Lower level, for streams a test cannot predict exactly. tcp_peek
    waits until n bytes are buffered and returns them (valid until the
    next call on c); tcp_consume drops n buffered bytes; tcp_fill reads
    what the socket has without waiting: bytes read, 0 at EOF, -1 when
    nothing is there (errno).                                            */
#define tcp_peek(c, n, ms) tcp_peek_at ((c), (n), (ms), __FILE__, __LINE__)
const char *tcp_peek_at (tcp_client_t *c, size_t n, int timeout_ms, const char *file, int line);
void        tcp_consume (tcp_client_t *c, size_t n);
const char *tcp_buffered (const tcp_client_t *c, size_t *len);
ssize_t     tcp_fill (tcp_client_t *c);

/*  Monotonic milliseconds; a sleep that survives signals.               */
int64_t check_now_ms (void);
void    check_sleep_ms (int ms);

#endif
