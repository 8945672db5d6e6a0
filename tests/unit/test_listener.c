/* SPDX-License-Identifier: MIT */
/*  Unit tests for listener: the listening TCP socket.

    Ports: the kernel picks a free one when we bind port 0 ourselves; we
    close that probe and hand the port to listener_open. Another process
    could take the port in between, so tests that need a free port retry
    with a fresh one when listener_open reports it in use.
    Only 127.0.0.1 and ::1 are ever contacted.                            */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "listener.h"
#include "../client_check.h"

#define WAIT_MS 5000

/*  A port that was free a moment ago, on the loopback of that family.   */
static int
free_port (int family)
{
    int port = tcp_free_port (family == AF_INET6);
    assert_true (port > 0);
    return port;
}

/*  A connection to the loopback of family at port, or the test fails.  */
static int
connect_to (int family, int port)
{
    int client = tcp_try_connect (port, family == AF_INET6, 0);
    if (client < 0)
        fail_msg ("connect to port %d (%s): %s", port, family == AF_INET ? "127.0.0.1" : "::1",
                  strerror (errno));
    return client;
}

/*  listener_open on a fresh free port; retries a few times if someone
    else grabbed the port meanwhile. Sets *port.                         */
static int
open_on_free_port (const char *address, int family, int *port)
{
    char error [256];
    for (int attempt = 0; attempt < 20; attempt++) {
        *port = free_port (family);
        memset (error, 0, sizeof error);
        int fd = listener_open (address, *port, error, sizeof error);
        if (fd >= 0)
            return fd;
        if (errno != EADDRINUSE && !strstr (error, "in use"))
            fail_msg ("listener_open (\"%s\", %d) failed: %s", address, *port, error);
    }
    fail_msg ("listener_open (\"%s\"): no free port after 20 attempts", address);
    return -1;
}

/*  The fd is a non-blocking, listening TCP socket with SO_REUSEADDR.    */
static void
assert_listening_socket (int fd)
{
    assert_true (fd >= 0);
    int flags = fcntl (fd, F_GETFL);
    assert_true (flags >= 0);
    assert_true (flags & O_NONBLOCK);
    int       value = 0;
    socklen_t len = sizeof value;
    assert_int_equal (getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len), 0);
    assert_int_equal (value, 1);
    len = sizeof value;
    assert_int_equal (getsockopt (fd, SOL_SOCKET, SO_TYPE, &value, &len), 0);
    assert_int_equal (value, SOCK_STREAM);
    len = sizeof value;
    assert_int_equal (getsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &value, &len), 0);
    assert_true (value != 0);
    //  Non-blocking: with nobody connecting, accept says so at once.
    errno = 0;
    assert_int_equal (accept (fd, NULL, NULL), -1);
    assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
assert_bound_to (int fd, int family, const char *address, int port)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof ss;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &ss, &len), 0);
    assert_int_equal (ss.ss_family, family);
    char text [INET6_ADDRSTRLEN];
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        assert_int_equal (ntohs (sin->sin_port), port);
        assert_non_null (inet_ntop (AF_INET, &sin->sin_addr, text, sizeof text));
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        assert_int_equal (ntohs (sin6->sin6_port), port);
        assert_non_null (inet_ntop (AF_INET6, &sin6->sin6_addr, text, sizeof text));
    }
    assert_string_equal (text, address);
}

/*  Connects to the loopback of family at port, then checks
    the listener accepts it.                                             */
static void
assert_accepts (int listener, int family, int port)
{
    int           client = connect_to (family, port);
    struct pollfd pfd = {.fd = listener, .events = POLLIN};
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    int accepted = accept (listener, NULL, NULL);
    assert_true (accepted >= 0);
    //  The connection works: a byte goes through.
    assert_int_equal (write (client, "x", 1), 1);
    pfd.fd = accepted;
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    char byte = 0;
    assert_int_equal (read (accepted, &byte, 1), 1);
    assert_int_equal (byte, 'x');
    close (accepted);
    close (client);
}

/*  fd listens on address (of family) at port and takes connections.    */
static void
assert_listens_on (int fd, int family, const char *address, int port)
{
    assert_listening_socket (fd);
    assert_bound_to (fd, family, address, port);
    assert_accepts (fd, family, port);
}

/* ------------------------------------------------------------------ */

static void
test_ipv4_loopback (void **state)
{
    (void) state;
    int port;
    int fd = open_on_free_port ("127.0.0.1", AF_INET, &port);
    assert_listens_on (fd, AF_INET, "127.0.0.1", port);
    assert_accepts (fd, AF_INET, port);
    close (fd);
}

static void
test_ipv6_loopback (void **state)
{
    (void) state;
    if (!tcp_have_ipv6 ())
        skip ();
    const char *spellings [] = {"::1", "[::1]"};
    for (size_t i = 0; i < 2; i++) {
        int port;
        int fd = open_on_free_port (spellings [i], AF_INET6, &port);
        assert_listens_on (fd, AF_INET6, "::1", port);
        close (fd);
    }
}

static void
test_default_is_dual_stack (void **state)
{
    (void) state;
    const char *defaults [] = {"", NULL};
    for (size_t i = 0; i < 2; i++) {
        int port;
        int fd = open_on_free_port (defaults [i], tcp_have_ipv6 () ? AF_INET6 : AF_INET, &port);
        assert_listening_socket (fd);
        if (tcp_have_ipv6 ()) {
            assert_bound_to (fd, AF_INET6, "::", port);
            int       v6only = 1;
            socklen_t len = sizeof v6only;
            assert_int_equal (getsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
            assert_int_equal (v6only, 0);
            assert_accepts (fd, AF_INET6, port);
        } else
            assert_bound_to (fd, AF_INET, "0.0.0.0", port);
        assert_accepts (fd, AF_INET, port);
        close (fd);
    }
}

/*  One connection to listener (on family, port): checks what
    listener_peer_name says of its accepted end (expected_host and the
    client's own port), and that the client's peer and the accepted
    end's local name both read as the listener's loopback and port.                                                 */
static void
assert_names (int listener, int family, int port, const char *expected_host)
{
    int           client = connect_to (family, port);
    struct pollfd pfd = {.fd = listener, .events = POLLIN};
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    int accepted = accept (listener, NULL, NULL);
    assert_true (accepted >= 0);
    struct sockaddr_storage ss;
    socklen_t               len = sizeof ss;
    assert_int_equal (getsockname (client, (struct sockaddr *) &ss, &len), 0);
    int  client_port = ntohs (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                       : ((struct sockaddr_in *) &ss)->sin_port);
    char expected [64], name [64];
    snprintf (expected, sizeof expected, strchr (expected_host, ':') ? "[%s]:%d" : "%s:%d",
              expected_host, client_port);
    listener_peer_name (accepted, name, sizeof name);
    assert_string_equal (name, expected);
    snprintf (expected, sizeof expected, family == AF_INET6 ? "[::1]:%d" : "127.0.0.1:%d", port);
    listener_peer_name (client, name, sizeof name);
    assert_string_equal (name, expected);
    listener_local_name (accepted, name, sizeof name);
    assert_string_equal (name, expected);
    close (accepted);
    close (client);
}

/*  Socket names as the log shows them: IPv4, IPv6 in brackets, an IPv4
    client of a dual-stack socket as IPv4 (not ::ffff:127.0.0.1), a
    socket with no address as "?:0", and a short buffer truncated.       */
static void
test_socket_names (void **state)
{
    (void) state;
    int  port;
    char name [64];
    int  fd = open_on_free_port ("127.0.0.1", AF_INET, &port);
    listener_local_name (fd, name, sizeof name);
    char expected [64];
    snprintf (expected, sizeof expected, "127.0.0.1:%d", port);
    assert_string_equal (name, expected);
    assert_names (fd, AF_INET, port, "127.0.0.1");
    char small [5];
    listener_local_name (fd, small, sizeof small);
    assert_string_equal (small, "127.");
    listener_peer_name (fd, name, sizeof name); /* listening: no peer */
    assert_string_equal (name, "?:0");
    close (fd);
    listener_peer_name (-1, name, sizeof name);
    assert_string_equal (name, "?:0");
    if (!tcp_have_ipv6 ())
        return;
    fd = open_on_free_port ("::1", AF_INET6, &port);
    listener_local_name (fd, name, sizeof name);
    snprintf (expected, sizeof expected, "[::1]:%d", port);
    assert_string_equal (name, expected);
    assert_names (fd, AF_INET6, port, "::1");
    close (fd);
    fd = open_on_free_port (NULL, AF_INET6, &port);
    listener_local_name (fd, name, sizeof name);
    snprintf (expected, sizeof expected, "[::]:%d", port);
    assert_string_equal (name, expected);
    assert_names (fd, AF_INET, port, "127.0.0.1"); /* v4-mapped */
    assert_names (fd, AF_INET6, port, "::1");
    close (fd);
}

/*  Bad addresses are LISTENER_BAD_ADDRESS (exit status 2), numeric ones
    at once, without asking DNS. ".invalid" never resolves (RFC 6761).  */
static void
test_bad_addresses (void **state)
{
    (void) state;
    const char *bad [] = {
        "no-such-host.invalid", "999.1.1.1", "1.2.3.4.5", "[::1",         "::1]", "[]",
        "127.0.0.1:80",         "::g",       "256.0.0.1", "[localhost]x",
    };
    int port = free_port (AF_INET);
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char error [256];
        memset (error, 0, sizeof error);
        int fd = listener_open (bad [i], port, error, sizeof error);
        if (fd >= 0) {
            close (fd);
            fail_msg ("listener_open (\"%s\") succeeded", bad [i]);
        }
        if (fd != LISTENER_BAD_ADDRESS)
            fail_msg ("listener_open (\"%s\"): %d, want LISTENER_BAD_ADDRESS (%s)", bad [i], fd,
                      error);
        if (strlen (error) == 0)
            fail_msg ("listener_open (\"%s\"): no reason given", bad [i]);
    }
}

/*  Issue 9 #11: host names resolve. localhost listens on 127.0.0.1 (the
    IPv4 address first: every nc tries it), and accepts there.           */
static void
test_host_name_localhost (void **state)
{
    (void) state;
    int port;
    int fd = open_on_free_port ("localhost", AF_INET, &port);
    assert_listens_on (fd, AF_INET, "127.0.0.1", port);
    assert_int_equal (listener_port (fd), port);
    close (fd);

    //  Bracketed, as a URL would have it, a name is still a name.
    fd = open_on_free_port ("[localhost]", AF_INET, &port);
    assert_bound_to (fd, AF_INET, "127.0.0.1", port);
    close (fd);
}

/*  An address this machine does not have (TEST-NET-1).                  */
static void
test_foreign_address (void **state)
{
    (void) state;
    char error [256] = "";
    int  fd = listener_open ("192.0.2.1", free_port (AF_INET), error, sizeof error);
    if (fd >= 0)
        close (fd);
    assert_int_equal (fd, LISTENER_BAD_ADDRESS);
    assert_true (strlen (error) > 0);
}

/*  The reason never overflows a small buffer and is always terminated.  */
static void
test_error_fits_the_buffer (void **state)
{
    (void) state;
    char *error = malloc (8); /* exact size: ASan sees overflows */
    assert_non_null (error);
    memset (error, 'Z', 8);
    int fd = listener_open ("999.999.999.999.999.999", 8989, error, 8);
    assert_int_equal (fd, LISTENER_BAD_ADDRESS);
    assert_true (memchr (error, 0, 8) != NULL);
    assert_true (strlen (error) > 0);
    free (error);
}

static void
test_port_in_use (void **state)
{
    (void) state;
    int  port;
    int  first = open_on_free_port ("127.0.0.1", AF_INET, &port);
    char error [256] = "";
    int  second = listener_open ("127.0.0.1", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, LISTENER_IN_USE);
    assert_true (strlen (error) > 0);

    //  By name too: a busy port is final, not a reason to try ::1.
    error [0] = 0;
    second = listener_open ("localhost", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, LISTENER_IN_USE);

    //  The default (every interface) conflicts with it too.
    error [0] = 0;
    second = listener_open ("", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, LISTENER_IN_USE);
    assert_true (strlen (error) > 0);
    close (first);

    //  And the other way round: the default holds the port.
    first = open_on_free_port ("", tcp_have_ipv6 () ? AF_INET6 : AF_INET, &port);
    error [0] = 0;
    second = listener_open ("127.0.0.1", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, LISTENER_IN_USE);
    assert_true (strlen (error) > 0);
    if (tcp_have_ipv6 ()) {
        error [0] = 0;
        second = listener_open ("::1", port, error, sizeof error);
        if (second >= 0)
            close (second);
        assert_int_equal (second, LISTENER_IN_USE);
        assert_true (strlen (error) > 0);
    }
    close (first);
}

/*  SO_REUSEADDR: a port whose last connection sits in TIME_WAIT can be
    listened on again at once (a restart).                               */
static void
test_reopen_after_close (void **state)
{
    (void) state;
    int port;
    int fd = open_on_free_port ("127.0.0.1", AF_INET, &port);
    //  Make a connection and close the server side first: TIME_WAIT.
    int           client = connect_to (AF_INET, port);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    int accepted = accept (fd, NULL, NULL);
    assert_true (accepted >= 0);
    close (accepted);
    close (fd);
    char byte;
    pfd.fd = client;
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    assert_int_equal (read (client, &byte, 1), 0); /* EOF: server closed first */
    close (client);

    char error [256] = "";
    fd = listener_open ("127.0.0.1", port, error, sizeof error);
    if (fd < 0)
        fail_msg ("cannot listen again on port %d: %s", port, error);
    assert_listening_socket (fd);
    close (fd);
}


/* ------------------------------------------------------------------ */
/*  The health probe                                                   */

/*  Runs listener_probe (address, port) in a child process (it blocks);
    returns the child's pid. The child exits 0 when the probe succeeded. */
static pid_t
spawn_probe (const char *address, int port)
{
    fflush (NULL);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        char error [256] = "";
        bool ok = listener_probe (address, port, WAIT_MS, error, sizeof error);
        _exit (ok ? 0 : 1);
    }
    return pid;
}

static int
reap (pid_t pid)
{
    int status = 0;
    for (int i = 0; i < WAIT_MS / 10; i++) {
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
        usleep (10000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    fail_msg ("the probe did not end within %d ms", WAIT_MS);
    return -1;
}

static int
accept_one (int listener)
{
    struct pollfd pfd = {.fd = listener, .events = POLLIN};
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    int fd = accept (listener, NULL, NULL);
    assert_true (fd >= 0);
    return fd;
}

/*  The probe's SYN is marked; the listener recognises it at accept, and
    the probe succeeds on the reply alone.                               */
static void
test_probe_is_recognised (void **state)
{
    (void) state;
    const char *addresses [] = {"127.0.0.1", "", "localhost"};
    for (size_t i = 0; i < 3; i++) {
        int port;
        int listener = open_on_free_port (
            addresses [i], tcp_have_ipv6 () && !*addresses [i] ? AF_INET6 : AF_INET, &port);
        pid_t probe = spawn_probe (addresses [i], port);
        int   fd = accept_one (listener);
        if (!listener_is_probe (fd))
            fail_msg ("a probe to \"%s\" was not recognised", addresses [i]);
        assert_int_equal (send (fd, LISTENER_PROBE_REPLY, strlen (LISTENER_PROBE_REPLY), 0),
                          (ssize_t) strlen (LISTENER_PROBE_REPLY));
        close (fd);
        assert_int_equal (reap (probe), 0);
        close (listener);
    }
}

/*  An ordinary client is not a probe; a probe that gets anything but the
    reply (a chat banner: another server) fails.                         */
static void
test_plain_client_is_not_a_probe (void **state)
{
    (void) state;
    int port;
    int listener = open_on_free_port ("127.0.0.1", AF_INET, &port);
    int client = connect_to (AF_INET, port);
    int fd = accept_one (listener);
    assert_false (listener_is_probe (fd));
    close (fd);
    close (client);

    pid_t probe = spawn_probe ("127.0.0.1", port);
    fd = accept_one (listener);
    assert_true (listener_is_probe (fd));
    const char *banner = "Welcome to TCP-Chat!\n";
    assert_int_equal (send (fd, banner, strlen (banner), 0), (ssize_t) strlen (banner));
    close (fd);
    assert_int_equal (reap (probe), 1);
    close (listener);
}

/*  Nothing listening: the probe fails at once, with the reason.         */
static void
test_probe_without_server (void **state)
{
    (void) state;
    char error [256] = "";
    assert_false (listener_probe ("127.0.0.1", free_port (AF_INET), WAIT_MS, error, sizeof error));
    assert_non_null (strstr (error, "refused"));
    assert_false (listener_probe ("no-such-host.invalid", 8989, WAIT_MS, error, sizeof error));
    assert_true (strlen (error) > 0);
}

/* ------------------------------------------------------------------ */
/*  Socket activation                                                  */

static void
test_systemd_none (void **state)
{
    (void) state;
    char error [256] = "";
    unsetenv ("LISTEN_FDS");
    unsetenv ("LISTEN_PID");
    assert_int_equal (listener_from_systemd (error, sizeof error), 0);
    //  Meant for another process: not ours.
    setenv ("LISTEN_FDS", "1", 1);
    setenv ("LISTEN_PID", "1", 1);
    assert_int_equal (listener_from_systemd (error, sizeof error), 0);
    assert_null (getenv ("LISTEN_FDS"));
}

static void
set_listen_env (const char *count)
{
    char pid [32];
    snprintf (pid, sizeof pid, "%ld", (long) getpid ());
    setenv ("LISTEN_PID", pid, 1);
    setenv ("LISTEN_FDS", count, 1);
}

/*  One listening socket as fd 3: taken, made non-blocking. A socket
    that does not listen, or two sockets, are refused with a reason.     */
static void
test_systemd_socket (void **state)
{
    (void) state;
    //  Whatever this process holds as fd 3 (the runner's), put back after.
    int saved = fcntl (3, F_DUPFD_CLOEXEC, 10);
    int port;
    int listener = open_on_free_port ("127.0.0.1", AF_INET, &port);
    //  As systemd passes it: blocking.
    fcntl (listener, F_SETFL, fcntl (listener, F_GETFL) & ~O_NONBLOCK);
    if (listener != 3) {
        assert_int_equal (dup2 (listener, 3), 3);
        close (listener);
    }
    char error [256] = "";
    set_listen_env ("1");
    int got = listener_from_systemd (error, sizeof error);
    if (got != 3)
        fail_msg ("listener_from_systemd: %d (%s)", got, error);
    assert_null (getenv ("LISTEN_FDS"));
    assert_listening_socket (3);
    assert_int_equal (listener_port (3), port);
    assert_accepts (3, AF_INET, port);
    close (3);

    int idle = socket (AF_INET, SOCK_STREAM, 0);
    if (idle != 3) {
        assert_int_equal (dup2 (idle, 3), 3);
        close (idle);
    }
    set_listen_env ("1");
    assert_int_equal (listener_from_systemd (error, sizeof error), LISTENER_FAILED);
    assert_non_null (strstr (error, "not a listening TCP socket"));

    set_listen_env ("2");
    assert_int_equal (listener_from_systemd (error, sizeof error), LISTENER_FAILED);
    assert_non_null (strstr (error, "socket activation"));
    close (3);
    if (saved >= 0) {
        dup2 (saved, 3);
        close (saved);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_ipv4_loopback),
        cmocka_unit_test (test_ipv6_loopback),
        cmocka_unit_test (test_default_is_dual_stack),
        cmocka_unit_test (test_socket_names),
        cmocka_unit_test (test_bad_addresses),
        cmocka_unit_test (test_host_name_localhost),
        cmocka_unit_test (test_foreign_address),
        cmocka_unit_test (test_error_fits_the_buffer),
        cmocka_unit_test (test_port_in_use),
        cmocka_unit_test (test_reopen_after_close),
        cmocka_unit_test (test_probe_is_recognised),
        cmocka_unit_test (test_plain_client_is_not_a_probe),
        cmocka_unit_test (test_probe_without_server),
        cmocka_unit_test (test_systemd_none),
        cmocka_unit_test (test_systemd_socket),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
