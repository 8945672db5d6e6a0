/* SPDX-License-Identifier: MIT */
/*  e2e: the end-to-end test harness.

    Starts the real server binary ($TCPCHAT_BIN) on a free port of
    127.0.0.1, talks to it over TCP as clients do, and stops it, checking
    that it exits cleanly (status 0, no sanitizer report).

    Clients, patterns and the watchdog are the ones unit tests use too
    (tests/client_check.h): expected bytes are patterns where CHECK_TS
    stands for one timestamp; E2E_TS is the stamp as the server writes it,
    in brackets. Every other byte must match exactly.

    Every wait is bounded (E2E_TIMEOUT_MS unless told otherwise), and the
    watchdog bounds a whole test (E2E_WATCHDOG_S). A failed expectation
    prints what was expected and what arrived, marks the cmocka test
    failed at the caller's line and jumps out of the test; register tests
    with E2E_TEST() so that e2e_teardown() then closes the clients and
    kills the server, printing the tail of its log.

    Only 127.0.0.1 and ::1 are ever contacted.                            */
#ifndef TCPCHAT_E2E_H
#define TCPCHAT_E2E_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/types.h>
#include <cmocka.h>

#include "protocol.h"
#include "../client_check.h"

#define E2E_TS         "[" CHECK_TS "]" /* "[YYYY-MM-DD HH:MM:SS]" */
#define E2E_TS_LEN     (CHECK_TS_LEN + 2)
#define E2E_TIMEOUT_MS CHECK_WAIT_MS
#define E2E_WATCHDOG_S 1200  /* the slowest test (seconds; minutes under valgrind) */
#define E2E_QUIET_MS   400   /* how long "nothing arrives" is watched */
#define E2E_START_MS   10000 /* server start and stop */

#define E2E_NAME_PROMPT "[ENTER YOUR NAME]: "
#define E2E_FULL        "Chat is full. Try again later.\n"
#define E2E_TOO_LONG    "Message too long (max 4096 bytes).\n"
#define E2E_USAGE       "[USAGE]: ./TCPChat $port\n"
/*  /help's answer: the protocol module's text, which test_protocol holds
    byte for byte to docs/PROTOCOL.md, so a change on one side alone
    fails there, and these tests check that the wire carries it.          */
#define E2E_HELP        PROTOCOL_HELP

/*  Registers a test whose leftovers (server, clients) are cleaned up even
    when it fails half way.                                               */
#define E2E_TEST(f) cmocka_unit_test_setup_teardown (f, e2e_setup, e2e_teardown)
int e2e_setup (void **state);
int e2e_teardown (void **state);
/*  The first part of the teardown, for a file's own teardown that must
    clean up between the two (unmount): closes the clients, kills every
    server and command still running.                                     */
void e2e_kill_all (void);

/*  A fresh directory for this test (made on the first call, the same
    one after that), removed with all it holds at teardown.              */
const char *e2e_root (void);

/* ------------------------------------------------------------------ */
/*  Server                                                            */

typedef struct e2e_server e2e_server_t;

typedef struct {
    const char *const *args;         /* extra arguments, NULL terminated (or NULL) */
    const char *const *env;          /* extra "NAME=VALUE", NULL terminated (or NULL) */
    const char        *bind;         /* NULL: --bind 127.0.0.1; "": no --bind; else its value */
    bool               port_in_env;  /* give the port as TCPCHAT_PORT, not as an argument */
    int                nofile;       /* > 0: the server's RLIMIT_NOFILE, soft and hard */
    bool               stdout_stuck; /* stdout a pipe read only up to "Listening on
                                  the port", then never: a stuck log reader
                                  (stderr still goes to the log file) */
    int                listen_fd;    /* > 0: a listening socket passed as systemd does
                                  (fd 3, LISTEN_FDS=1, LISTEN_PID=the server);
                                  the server's port is that socket's (not
                                  with stdout_stuck) */
} e2e_opts_t;

/*  e2e_start(NULL) or e2e_start("--max-clients", "3"): the usual server. */
#define e2e_start(...)                                                                             \
    e2e_start_at (&(e2e_opts_t){.args = (const char *const []){__VA_ARGS__, NULL}}, __FILE__,      \
                  __LINE__)
#define e2e_start_opts(opts) e2e_start_at ((opts), __FILE__, __LINE__)
e2e_server_t *e2e_start_at (const e2e_opts_t *opts, const char *file, int line);

/*  SIGTERM, then wait: the server must exit with status 0 and its log must
    hold no sanitizer report. s is not usable afterwards.                 */
#define e2e_stop(s) e2e_stop_at ((s), __FILE__, __LINE__)
void e2e_stop_at (e2e_server_t *s, const char *file, int line);

int e2e_port (const e2e_server_t *s);

/* ------------------------------------------------------------------ */
/*  Clients                                                           */

typedef struct e2e_client e2e_client_t;

/*  Connections that fail, fail the test. The client is owned by the
    harness: e2e_close() or the teardown frees it.                        */
#define e2e_connect(s)  e2e_connect_at ((s), false, __FILE__, __LINE__)
#define e2e_connect6(s) e2e_connect_at ((s), true, __FILE__, __LINE__)
e2e_client_t *e2e_connect_at (const e2e_server_t *s, bool ipv6, const char *file, int line);
/*  A raw connect to 127.0.0.1 or ::1: the socket, or -1 with errno set.
    The caller closes it.                                                 */
#define e2e_try_connect(port, ipv6) tcp_try_connect ((port), (ipv6), 0)
/*  True when ::1 can be used on this machine.                            */
#define e2e_have_ipv6()             tcp_have_ipv6 ()

/*  Connects and reads the banner and name prompt.                       */
#define e2e_at_name_prompt(s) e2e_at_name_prompt_at ((s), __FILE__, __LINE__)
e2e_client_t *e2e_at_name_prompt_at (const e2e_server_t *s, const char *file, int line);

/*  Connects, reads the banner and name prompt, sends name + "\n", reads
    history (a pattern, "" for none) then the own prompt.                */
#define e2e_login(s, name) e2e_login_at ((s), (name), "", __FILE__, __LINE__)
#define e2e_login_history(s, name, history)                                                        \
    e2e_login_at ((s), (name), (history), __FILE__, __LINE__)
e2e_client_t *e2e_login_at (const e2e_server_t *s, const char *name, const char *history,
                            const char *file, int line);
/*  e2e_login_seen (s, name, other, other...): name logs in (no history)
    and each other client reads that it joined.                          */
#define e2e_login_seen(s, name, ...)                                                               \
    e2e_login_seen_at ((s), (name), (e2e_client_t *[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)
e2e_client_t *e2e_login_seen_at (const e2e_server_t *s, const char *name,
                                 e2e_client_t *const *others, const char *file, int line);
/*  Two clients in general: alice and bob log in, alice reads that bob
    joined. e2e_start_two: the same on a new e2e_start(NULL) server.     */
#define e2e_login_two(s, alice, bob) e2e_login_two_at ((s), (alice), (bob), __FILE__, __LINE__)
#define e2e_start_two(alice, bob)    e2e_start_two_at ((alice), (bob), __FILE__, __LINE__)
void          e2e_login_two_at (const e2e_server_t *s, e2e_client_t **alice, e2e_client_t **bob,
                                const char *file, int line);
e2e_server_t *e2e_start_two_at (e2e_client_t **alice, e2e_client_t **bob, const char *file,
                                int line);
/*  e2e_start_two, then carol logs in and both read that she joined.     */
#define e2e_start_three(alice, bob, carol)                                                         \
    e2e_start_three_at ((alice), (bob), (carol), __FILE__, __LINE__)
e2e_server_t *e2e_start_three_at (e2e_client_t **alice, e2e_client_t **bob, e2e_client_t **carol,
                                  const char *file, int line);
/*  The part of the login after the banner and name prompt were read:
    sends name + "\n", reads history (a pattern) and the prompt. Sets the
    client's name.                                                       */
#define e2e_enter(c, name, history) e2e_enter_at ((c), (name), (history), __FILE__, __LINE__)
void e2e_enter_at (e2e_client_t *c, const char *name, const char *history, const char *file,
                   int line);

/*  The name used for this client's prompt (set by login; call after /name). */
void        e2e_set_name (e2e_client_t *c, const char *name);
const char *e2e_name (const e2e_client_t *c);
int         e2e_fd (const e2e_client_t *c);

/*  Closing: plain close (FIN), close with SO_LINGER 0 (RST).            */
void e2e_close (e2e_client_t *c);
void e2e_reset (e2e_client_t *c);

/*  Sending: the whole buffer, or in chunks of `chunk` bytes with pause_ms
    between them (to cut lines anywhere).                                 */
#define e2e_send(c, str)    e2e_send_at ((c), (str), strlen (str), __FILE__, __LINE__)
#define e2e_send_n(c, p, n) e2e_send_at ((c), (p), (n), __FILE__, __LINE__)
#define e2e_send_split(c, p, n, chunk, pause_ms)                                                   \
    e2e_send_split_at ((c), (p), (n), (chunk), (pause_ms), __FILE__, __LINE__)
void e2e_send_at (e2e_client_t *c, const void *p, size_t n, const char *file, int line);
void e2e_send_split_at (e2e_client_t *c, const void *p, size_t n, size_t chunk, int pause_ms,
                        const char *file, int line);

/*  Receiving exactly: a pattern (E2E_TS for stamps), or raw bytes.       */
#define e2e_expect(c, pattern) e2e_expect_at ((c), (pattern), __FILE__, __LINE__)
#define e2e_expect_n(c, p, n)  e2e_expect_n_at ((c), (p), (n), __FILE__, __LINE__)
void e2e_expect_at (e2e_client_t *c, const char *pattern, const char *file, int line);
void e2e_expect_n_at (e2e_client_t *c, const void *p, size_t n, const char *file, int line);

/*  The protocol's building blocks, for client c named e2e_name(c):
      prompt   "[TS][me]:"
      chat     "\n[TS][from]:text\n"                 (no prompt after it)
      said     chat + prompt                          (someone spoke)
      joined   "\nWHO has joined our chat...\n" + prompt
      left     "\nWHO has left our chat...\n" + prompt
      reply    "line\n" + prompt                      (a command's answer)
      banner   the welcome and "[ENTER YOUR NAME]: "                     */
#define e2e_expect_prompt(c) e2e_expect_prompt_at ((c), __FILE__, __LINE__)
#define e2e_expect_chat(c, from, text)                                                             \
    e2e_expect_chat_at ((c), (from), (text), false, __FILE__, __LINE__)
#define e2e_expect_said(c, from, text)                                                             \
    e2e_expect_chat_at ((c), (from), (text), true, __FILE__, __LINE__)
#define e2e_expect_joined(c, who) e2e_expect_notice_at ((c), (who), "joined", __FILE__, __LINE__)
#define e2e_expect_left(c, who)   e2e_expect_notice_at ((c), (who), "left", __FILE__, __LINE__)
#define e2e_expect_reply(c, line) e2e_expect_reply_at ((c), (line), __FILE__, __LINE__)
#define e2e_expect_banner(c)      e2e_expect_banner_at ((c), __FILE__, __LINE__)
void e2e_expect_prompt_at (e2e_client_t *c, const char *file, int line);
void e2e_expect_chat_at (e2e_client_t *c, const char *from, const char *text, bool prompt,
                         const char *file, int line);
void e2e_expect_notice_at (e2e_client_t *c, const char *who, const char *verb, const char *file,
                           int line);
void e2e_expect_reply_at (e2e_client_t *c, const char *text, const char *file, int line);
void e2e_expect_banner_at (e2e_client_t *c, const char *file, int line);

/*  Sends text + "\n" and expects the sender's fresh prompt (no echo).   */
#define e2e_say(c, text) e2e_say_at ((c), (text), __FILE__, __LINE__)
void e2e_say_at (e2e_client_t *c, const char *text, const char *file, int line);

/*  Nothing arrives for ms milliseconds (and nothing is left unread).    */
#define e2e_expect_silence(c, ms) e2e_expect_silence_at ((c), (ms), __FILE__, __LINE__)
void e2e_expect_silence_at (e2e_client_t *c, int ms, const char *file, int line);
/*  The server closed the connection (clean EOF) with nothing else unread. */
#define e2e_expect_eof(c) e2e_expect_eof_at ((c), __FILE__, __LINE__)
void e2e_expect_eof_at (e2e_client_t *c, const char *file, int line);

/*  Lower level reading, for tests that parse a stream they cannot predict
    exactly. e2e_peek waits until n bytes are buffered and returns them
    (valid until the next call on c); e2e_consume drops n buffered bytes.
    e2e_fill reads what the socket has without waiting: bytes read, 0 at
    EOF, -1 when nothing is there.                                       */
#define e2e_peek(c, n, ms) e2e_peek_at ((c), (n), (ms), __FILE__, __LINE__)
const char *e2e_peek_at (e2e_client_t *c, size_t n, int timeout_ms, const char *file, int line);
void        e2e_consume (e2e_client_t *c, size_t n);
const char *e2e_buffered (const e2e_client_t *c, size_t *len);
ssize_t     e2e_fill (e2e_client_t *c);

/*  True when s[0..n) matches the pattern exactly; the length a pattern
    matches.                                                             */
#define e2e_match(pattern, s, n) check_match ((pattern), (s), (n))
#define e2e_pattern_len(pattern) check_pattern_len (pattern)
/*  True when text holds `line` at the start of one of its lines (with its
    "\n" when line ends in one).                                        */
bool e2e_has_line (const char *text, const char *line);

/* ------------------------------------------------------------------ */
/*  Running the binary as a command (usage errors, --help, ...)        */

typedef struct {
    int   status; /* as from waitpid */
    char *out;    /* stdout, NUL terminated */
    char *err;    /* stderr, NUL terminated */
} e2e_run_t;

/*  Runs $TCPCHAT_BIN with args (NULL terminated) and extra env, waits for
    its exit (bounded: killed and failed after E2E_START_MS).            */
#define e2e_run(res, args, env) e2e_run_at ((res), (args), (env), __FILE__, __LINE__)
void e2e_run_at (e2e_run_t *res, const char *const *args, const char *const *env, const char *file,
                 int line);
void e2e_run_free (e2e_run_t *res);

/*  A server started with stdout and stderr on two pipes (to check which
    stream a line goes to, and that it arrives while the server runs).   */
typedef struct {
    pid_t pid;
    int   out_fd;
    int   err_fd;
} e2e_proc_t;
#define e2e_spawn(proc, args, env) e2e_spawn_at ((proc), (args), (env), __FILE__, __LINE__)
void e2e_spawn_at (e2e_proc_t *proc, const char *const *args, const char *const *env,
                   const char *file, int line);
/*  SIGTERM, wait (bounded): the exit status as from waitpid. On timeout the
    process is killed and the test fails. Closes the pipes.              */
#define e2e_proc_stop(proc) e2e_proc_stop_at ((proc), __FILE__, __LINE__)
int e2e_proc_stop_at (e2e_proc_t *proc, const char *file, int line);
/*  A port nothing listens on right now (bound to 127.0.0.1:0 and freed). */
#define e2e_free_port() tcp_free_port (false)

/* ------------------------------------------------------------------ */
/*  Misc                                                              */

/*  Fails the test at file:line with a printf-style message.             */
#define e2e_fail_at   check_fail_at
#define e2e_fail(...) check_fail_at (__FILE__, __LINE__, __VA_ARGS__)

#define e2e_sleep_ms(ms) check_sleep_ms (ms)
#define e2e_now_ms()     check_now_ms ()
/*  Zeroed memory freed at teardown.                                     */
void *e2e_calloc (size_t n, size_t size);
/*  A string of n copies of ch, NUL terminated; freed at teardown.       */
char *e2e_repeat (char ch, size_t n);
/*  printf into memory freed at teardown.                                */
__attribute__ ((format (printf, 1, 2))) char *e2e_fmt (const char *fmt, ...);
/*  Bytes shown as a C string literal (for messages); freed at teardown. */
char *e2e_escape (const char *p, size_t n);

/* ------------------------------------------------------------------ */
/*  Restarts and hard kills (persistence)                              */

pid_t e2e_pid (const e2e_server_t *s);
/*  The file the server's stdout and stderr go to.                       */
const char *e2e_log_path (const e2e_server_t *s);

/*  e2e_start_on (port, "--data-dir", dir): a server on the given port (a
    restart on the port of a server just stopped: the server sets
    SO_REUSEADDR). Waits a little while the port is still taken.         */
#define e2e_start_on(port, ...)                                                                    \
    e2e_start_on_at (&(e2e_opts_t){.args = (const char *const []){__VA_ARGS__, NULL}}, (port),     \
                     __FILE__, __LINE__)
e2e_server_t *e2e_start_on_at (const e2e_opts_t *opts, int port, const char *file, int line);

/*  SIGKILL and reap (bounded), as a crash or the OOM killer would: no
    shutdown at all. Fails if the server had exited before. s is not
    usable afterwards.                                                   */
#define e2e_kill9(s) e2e_kill9_at ((s), __FILE__, __LINE__)
void e2e_kill9_at (e2e_server_t *s, const char *file, int line);

/*  For a server the test signalled and reaped itself: fails if its log
    holds a sanitizer report, then forgets it (the teardown leaves it
    alone). s is not usable afterwards.                                  */
#define e2e_forget(s) e2e_forget_at ((s), __FILE__, __LINE__)
void e2e_forget_at (e2e_server_t *s, const char *file, int line);

#endif
