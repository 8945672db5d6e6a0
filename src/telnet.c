/* SPDX-License-Identifier: MIT */
/*  telnet: takes the telnet protocol out of a client's byte stream. See
    telnet.h for what happens to each command.

    libtelnet runs in proxy mode: it parses and reports every negotiation
    and sends nothing by itself, so the policy (refuse everything once,
    answer TIMING-MARK every time) is all here. Its own RFC 1143 mode
    would answer a second DO TIMING-MARK with silence, and a flood of
    WILLs with a flood of DONTs.                                          */
#include "telnet.h"
#include "mem.h"

#include <libtelnet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define streq(a, b) (strcmp ((a), (b)) == 0)

/*  Bytes handed to libtelnet at a time. A client that turns compression
    on makes libtelnet inflate the rest of the bytes it was given before
    we can stop it: this bounds that to SLICE times zlib's ratio (~1000).  */
#define TELNET_SLICE 512

/*  A bit for each of the 256 option codes.                              */
#define OPTION_BYTES (256 / 8)

struct _telnet_filter_t {
    telnet_t        *telnet;
    telnet_result_t *result;                     /* during telnet_filter_feed */
    buf_t           *sink;                       /* where libtelnet's output goes now */
    uint8_t          refused_us [OPTION_BYTES];  /* options we said WONT to */
    uint8_t          refused_him [OPTION_BYTES]; /* options we said DONT to */
    bool             cr;                         /* the last data byte was a CR */
    bool             in_long_sb;                 /* libtelnet gave up on an over-long SB */
    bool             fatal;
};

//  Client text. CR NUL is a bare CR; telnet's Enter in character mode.
static void
s_data (telnet_filter_t *self, const char *data, size_t size)
{
    if (self->fatal || self->in_long_sb || !self->result)
        return;
    buf_t *out = &self->result->data;
    size_t start = 0;
    for (size_t i = 0; i < size; i++)
        if (data [i] == '\0' && (i ? data [i - 1] == '\r' : self->cr)) {
            buf_append (out, data + start, i - start);
            buf_append (out, "\n", 1);
            start = i + 1;
        }
    buf_append (out, data + start, size - start);
    self->cr = data [size - 1] == '\r';
}

//  IP, BRK, EL: what was typed since the last end of line goes. If this
//  call's text has no end of line, that starts in what the framer holds.
static void
s_interrupt (telnet_filter_t *self)
{
    buf_t      *data = &self->result->data;
    const char *head = buf_head (data);
    const char *newline = head ? memrchr (head, '\n', buf_size (data)) : NULL;
    if (newline)
        data->len = (size_t) (newline + 1 - data->data);
    else {
        buf_clear (data);
        self->result->drop_partial = true;
    }
    self->cr = false;
}

static void
s_command (telnet_filter_t *self, unsigned char command)
{
    switch (command) {
        case TELNET_IP:
        case TELNET_BREAK:
        case TELNET_EL:
            s_interrupt (self);
            break;
        case TELNET_AYT:
            buf_append (self->sink, TELNET_AYT_ANSWER, strlen (TELNET_AYT_ANSWER));
            break;
        case TELNET_SE:
            self->in_long_sb = false;  //  The end of the SB libtelnet dropped
            break;
        default:
            break;  //  AO, EC, NOP, DM, GA, EOR, ...
    }
}

//  Once per option and direction: a peer that asks again has its answer.
static void
s_refuse (telnet_filter_t *self, uint8_t *refused, unsigned char answer, unsigned char option)
{
    uint8_t bit = (uint8_t) (1u << (option & 7));
    if (refused [option >> 3] & bit)
        return;
    refused [option >> 3] |= bit;
    telnet_negotiate (self->telnet, answer, option);
}

static void
s_handle_event (telnet_t *telnet, telnet_event_t *event, void *user)
{
    telnet_filter_t *self = (telnet_filter_t *) user;
    (void) telnet;
    switch (event->type) {
        case TELNET_EV_DATA:
            s_data (self, event->data.buffer, event->data.size);
            break;
        case TELNET_EV_SEND:
            if (self->sink)
                buf_append (self->sink, event->data.buffer, event->data.size);
            break;
        case TELNET_EV_IAC:
            if (!self->fatal && self->result)
                s_command (self, event->iac.cmd);
            break;
        case TELNET_EV_WILL:
            if (!self->fatal)
                s_refuse (self, self->refused_him, TELNET_DONT, event->neg.telopt);
            break;
        case TELNET_EV_DO:
            if (self->fatal)
                break;
            if (event->neg.telopt == TELNET_TELOPT_TM)
                telnet_negotiate (self->telnet, TELNET_WILL, TELNET_TELOPT_TM);
            else
                s_refuse (self, self->refused_us, TELNET_WONT, event->neg.telopt);
            break;
        case TELNET_EV_COMPRESS:
            if (event->compress.state)
                self->fatal = true;
            break;
        case TELNET_EV_WARNING:
            //  An SB over libtelnet's buffer (16 KiB): it goes back to
            //  reading data in the middle of the SB. The rest of it is not
            //  text either. libtelnet leaves errcode unset (0.21 and
            //  since); the function that gave up is what tells.
            if (event->error.func && streq (event->error.func, "_buffer_byte"))
                self->in_long_sb = true;
            break;
        case TELNET_EV_ERROR:
            self->fatal = true;
            break;
        default:
            break;  //  WONT, DONT, SB contents: nothing to do
    }
}

telnet_filter_t *
telnet_filter_new (void)
{
    telnet_filter_t *self = (telnet_filter_t *) mem_zalloc (1, sizeof (telnet_filter_t));
    //  libtelnet's one failure is its calloc's.
    self->telnet = mem_check (telnet_init (NULL, s_handle_event, TELNET_FLAG_PROXY, self));
    return self;
}

void
telnet_filter_destroy (telnet_filter_t **self_p)
{
    if (*self_p)
        telnet_free ((*self_p)->telnet);
    MEM_FREE (*self_p);
}

void
telnet_filter_feed (telnet_filter_t *self, const char *data, size_t size, telnet_result_t *result)
{
    buf_clear (&result->data);
    buf_clear (&result->reply);
    result->drop_partial = false;
    self->result = result;
    self->sink = &result->reply;
    for (size_t offset = 0; offset < size && !self->fatal; offset += TELNET_SLICE) {
        size_t slice = size - offset < TELNET_SLICE ? size - offset : TELNET_SLICE;
        telnet_recv (self->telnet, data + offset, slice);
    }
    result->fatal = self->fatal;
    self->result = NULL;
    self->sink = NULL;
}

//  libtelnet escapes; its output comes back through TELNET_EV_SEND.
void
telnet_filter_send (telnet_filter_t *self, const char *data, size_t size, buf_t *out)
{
    self->sink = out;
    telnet_send (self->telnet, data, size);
    self->sink = NULL;
}
