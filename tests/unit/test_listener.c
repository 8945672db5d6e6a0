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
#include <unistd.h>
#include "listener.h"

#define WAIT_MS 5000

/*  A port that was free a moment ago, on the loopback of that family.   */
static int free_port (int family)
{
    int fd = socket (family, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_storage ss;
    memset (&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        len = sizeof *sin;
    }
    else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof *sin6;
    }
    assert_int_equal (bind (fd, (struct sockaddr *) &ss, len), 0);
    len = sizeof ss;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &ss, &len), 0);
    int port = ntohs (family == AF_INET? ((struct sockaddr_in *) &ss)->sin_port
                                       : ((struct sockaddr_in6 *) &ss)->sin6_port);
    close (fd);
    assert_true (port > 0);
    return port;
}

static bool have_ipv6 (void)
{
    int fd = socket (AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    bool ok = bind (fd, (struct sockaddr *) &sin6, sizeof sin6) == 0;
    close (fd);
    return ok;
}

/*  listener_open on a fresh free port; retries a few times if someone
    else grabbed the port meanwhile. Sets *port.                         */
static int open_on_free_port (const char *address, int family, int *port)
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
static void assert_listening_socket (int fd)
{
    assert_true (fd >= 0);
    int flags = fcntl (fd, F_GETFL);
    assert_true (flags >= 0);
    assert_true (flags & O_NONBLOCK);
    int value = 0;
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

static void assert_bound_to (int fd, int family, const char *address, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &ss, &len), 0);
    assert_int_equal (ss.ss_family, family);
    char text [INET6_ADDRSTRLEN];
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        assert_int_equal (ntohs (sin->sin_port), port);
        assert_non_null (inet_ntop (AF_INET, &sin->sin_addr, text, sizeof text));
    }
    else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        assert_int_equal (ntohs (sin6->sin6_port), port);
        assert_non_null (inet_ntop (AF_INET6, &sin6->sin6_addr, text, sizeof text));
    }
    assert_string_equal (text, address);
}

/*  Connects to the loopback of family at port (blocking), then checks
    the listener accepts it.                                             */
static void assert_accepts (int listener, int family, int port)
{
    int client = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (client >= 0);
    int rc;
    if (family == AF_INET) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
        rc = connect (client, (struct sockaddr *) &sin, sizeof sin);
    }
    else {
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons (port),
                                     .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        rc = connect (client, (struct sockaddr *) &sin6, sizeof sin6);
    }
    if (rc != 0)
        fail_msg ("connect to port %d (%s): %s", port,
                  family == AF_INET? "127.0.0.1": "::1", strerror (errno));
    struct pollfd pfd = { .fd = listener, .events = POLLIN };
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

/* ------------------------------------------------------------------ */

static void test_ipv4_loopback (void **state)
{
    (void) state;
    int port;
    int fd = open_on_free_port ("127.0.0.1", AF_INET, &port);
    assert_listening_socket (fd);
    assert_bound_to (fd, AF_INET, "127.0.0.1", port);
    assert_accepts (fd, AF_INET, port);
    assert_accepts (fd, AF_INET, port);
    close (fd);
}

static void test_ipv6_loopback (void **state)
{
    (void) state;
    if (!have_ipv6 ())
        skip ();
    const char *spellings [] = { "::1", "[::1]" };
    for (size_t i = 0; i < 2; i++) {
        int port;
        int fd = open_on_free_port (spellings [i], AF_INET6, &port);
        assert_listening_socket (fd);
        assert_bound_to (fd, AF_INET6, "::1", port);
        assert_accepts (fd, AF_INET6, port);
        close (fd);
    }
}

static void test_default_is_dual_stack (void **state)
{
    (void) state;
    const char *defaults [] = { "", NULL };
    for (size_t i = 0; i < 2; i++) {
        int port;
        int fd = open_on_free_port (defaults [i], have_ipv6 ()? AF_INET6: AF_INET, &port);
        assert_listening_socket (fd);
        if (have_ipv6 ()) {
            assert_bound_to (fd, AF_INET6, "::", port);
            int v6only = 1;
            socklen_t len = sizeof v6only;
            assert_int_equal (getsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
            assert_int_equal (v6only, 0);
            assert_accepts (fd, AF_INET6, port);
        }
        else
            assert_bound_to (fd, AF_INET, "0.0.0.0", port);
        assert_accepts (fd, AF_INET, port);
        close (fd);
    }
}

static void test_bad_addresses (void **state)
{
    (void) state;
    const char *bad [] = {
        "not-an-ip", "localhost", "999.1.1.1", "1.2.3.4.5", "[::1", "::1]", "[]",
        "127.0.0.1:80", " 127.0.0.1", "::g",
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
        assert_int_equal (fd, -1);
        if (strlen (error) == 0)
            fail_msg ("listener_open (\"%s\"): no reason given", bad [i]);
    }
}

/*  An address this machine does not have (TEST-NET-1).                  */
static void test_foreign_address (void **state)
{
    (void) state;
    char error [256] = "";
    int fd = listener_open ("192.0.2.1", free_port (AF_INET), error, sizeof error);
    if (fd >= 0)
        close (fd);
    assert_int_equal (fd, -1);
    assert_true (strlen (error) > 0);
}

/*  The reason never overflows a small buffer and is always terminated.  */
static void test_error_fits_the_buffer (void **state)
{
    (void) state;
    char *error = malloc (8);           /* exact size: ASan sees overflows */
    assert_non_null (error);
    memset (error, 'Z', 8);
    int fd = listener_open ("not-an-ip-at-all-and-quite-long", 8989, error, 8);
    assert_int_equal (fd, -1);
    assert_true (memchr (error, 0, 8) != NULL);
    assert_true (strlen (error) > 0);
    free (error);
}

static void test_port_in_use (void **state)
{
    (void) state;
    int port;
    int first = open_on_free_port ("127.0.0.1", AF_INET, &port);
    char error [256] = "";
    int second = listener_open ("127.0.0.1", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, -1);
    assert_true (strlen (error) > 0);

    //  The default (every interface) conflicts with it too.
    error [0] = 0;
    second = listener_open ("", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, -1);
    assert_true (strlen (error) > 0);
    close (first);

    //  And the other way round: the default holds the port.
    first = open_on_free_port ("", have_ipv6 ()? AF_INET6: AF_INET, &port);
    error [0] = 0;
    second = listener_open ("127.0.0.1", port, error, sizeof error);
    if (second >= 0)
        close (second);
    assert_int_equal (second, -1);
    assert_true (strlen (error) > 0);
    if (have_ipv6 ()) {
        error [0] = 0;
        second = listener_open ("::1", port, error, sizeof error);
        if (second >= 0)
            close (second);
        assert_int_equal (second, -1);
        assert_true (strlen (error) > 0);
    }
    close (first);
}

/*  SO_REUSEADDR: a port whose last connection sits in TIME_WAIT can be
    listened on again at once (a restart).                               */
static void test_reopen_after_close (void **state)
{
    (void) state;
    int port;
    int fd = open_on_free_port ("127.0.0.1", AF_INET, &port);
    //  Make a connection and close the server side first: TIME_WAIT.
    int client = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port),
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (connect (client, (struct sockaddr *) &sin, sizeof sin), 0);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    int accepted = accept (fd, NULL, NULL);
    assert_true (accepted >= 0);
    close (accepted);
    close (fd);
    char byte;
    pfd.fd = client;
    assert_int_equal (poll (&pfd, 1, WAIT_MS), 1);
    assert_int_equal (read (client, &byte, 1), 0);      /* EOF: server closed first */
    close (client);

    char error [256] = "";
    fd = listener_open ("127.0.0.1", port, error, sizeof error);
    if (fd < 0)
        fail_msg ("cannot listen again on port %d: %s", port, error);
    assert_listening_socket (fd);
    close (fd);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_ipv4_loopback),
        cmocka_unit_test (test_ipv6_loopback),
        cmocka_unit_test (test_default_is_dual_stack),
        cmocka_unit_test (test_bad_addresses),
        cmocka_unit_test (test_foreign_address),
        cmocka_unit_test (test_error_fits_the_buffer),
        cmocka_unit_test (test_port_in_use),
        cmocka_unit_test (test_reopen_after_close),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
