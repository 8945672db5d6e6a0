/* SPDX-License-Identifier: MIT */
/*  telnet: takes the telnet protocol out of a client's byte stream.

    A thin policy over libtelnet (which parses: IAC escapes, commands,
    negotiation, subnegotiation, split anywhere between reads). The gateway
    creates a filter for a connection at the first IAC byte (0xFF) it
    sends; until then its bytes go to the framer untouched, so a client
    that never sends 0xFF (nc) is never filtered. 0xFF is never part of
    UTF-8 text, so a chat client has no other use for it.

    What the filter does with each thing a telnet client sends:
      data             passed on; IAC IAC is the data byte 0xFF, CR NUL
                       (a bare carriage return, telnet's Enter in
                       character mode) becomes CR LF, an end of line
      WILL x / DO x    refused (DONT x / WONT x), once per option and
                       direction: we never ask, never answer a refusal,
                       so no exchange can loop
      DO TIMING-MARK   WILL TIMING-MARK, every time: telnet discards our
                       output after Ctrl-C until it gets this answer
      WONT x / DONT x  nothing: every option is off already
      IP, BRK, EL      the line typed so far (not yet ended) is dropped
      AYT              TELNET_AYT_ANSWER
      AO, EC, NOP, DM, GA, ... ignored
      SB ... IAC SE    dropped whole, however long (libtelnet keeps at
                       most 16 KiB of it; the rest is skipped here)
      SB COMPRESS2     fatal: a client may not compress what it sends us
                       (libtelnet would inflate it: a zip bomb)         */
#ifndef TCPCHAT_TELNET_H
#define TCPCHAT_TELNET_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "protocol.h"

#define TELNET_IAC_BYTE   0xFF
/*  The visible answer to Are You There: BSD telnetd's, with our line ends. */
#define TELNET_AYT_ANSWER PROTOCOL_AYT_ANSWER

typedef struct _telnet_filter_t telnet_filter_t;

/*  What one telnet_filter_feed call produced; the caller owns the buffers
    (buf_init them once, buf_free at the end) and uses the results before
    the next call, which clears them.                                     */
typedef struct {
    buf_t data;         /* the client's text, for the framer */
    buf_t reply;        /* bytes for the client: answers to its commands */
    bool  drop_partial; /* first drop the unfinished line already framed */
    bool  fatal;        /* the client broke the protocol: close it (data
                             holds its text up to that point) */
} telnet_result_t;

telnet_filter_t *telnet_filter_new (void);
void             telnet_filter_destroy (telnet_filter_t **self_p);

/*  Parses size bytes received from the client into *result. After a
    fatal result, later calls produce nothing.                            */
void telnet_filter_feed (telnet_filter_t *self, const char *data, size_t size,
                         telnet_result_t *result);

/*  Appends text for the client to out, escaped for telnet (0xFF doubled). */
void telnet_filter_send (telnet_filter_t *self, const char *data, size_t size, buf_t *out);

#endif
