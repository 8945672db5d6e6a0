/* SPDX-License-Identifier: MIT */
/*  origin: may this WebSocket handshake go on, by its Origin header?

    A browser sends the page's origin with every WebSocket handshake; a
    page on another site must not drive a visitor's browser into the
    chat with the visitor's address. Allowed:
      - no Origin at all: not a browser (nc-like tools, scripts);
      - "http://HOST" or "https://HOST" for the request's own Host header
        (port included, as the browser sends both): the page we served;
      - an origin listed in --http-origin (comma-separated, blanks around
        entries ignored), for a page served under another name (a proxy).
    Scheme and host compare case-insensitively (RFC 6454 serialises them
    in lower case, a Host header may not be). Anything else, "null" (a
    sandboxed or file: page) included, is refused. Pure.                  */
#ifndef TCPCHAT_ORIGIN_H
#define TCPCHAT_ORIGIN_H

#include <stdbool.h>

/*  origin and host NULL when the request had none; allowed never NULL
    ("" = no extra origins).                                              */
bool origin_allowed (const char *origin, const char *host, const char *allowed);

#endif
