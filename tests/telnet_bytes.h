/* SPDX-License-Identifier: MIT */
/*  telnet_bytes: telnet commands (RFC 854) as string literals, and what
    a real telnet sends, for the unit and end-to-end telnet tests.       */
#ifndef TCPCHAT_TESTS_TELNET_BYTES_H
#define TCPCHAT_TESTS_TELNET_BYTES_H

#define IAC  "\xff"
#define WILL "\xfb"
#define WONT "\xfc"
#define DO   "\xfd"
#define DONT "\xfe"
#define SB   "\xfa"
#define SE   "\xf0"
#define IP   "\xf4"
#define AO   "\xf5"
#define AYT  "\xf6"
#define EC   "\xf7"
#define EL   "\xf8"
#define GA   "\xf9"
#define NOP  "\xf1"
#define DM   "\xf2"
#define BRK  "\xf3"
#define TM   "\x06"

/*  What inetutils telnet sends on connecting in negotiating mode
    (`telnet -- HOST -PORT`), as captured: DO/WILL ENCRYPT, DO SGA, WILL
    TTYPE, NAWS, TSPEED, LFLOW, LINEMODE, NEW-ENVIRON, DO STATUS. 30
    IAC-led bytes.                                                       */
#define INETUTILS_HELLO                                                                            \
    IAC DO "\x26" IAC WILL "\x26" IAC DO "\x03" IAC WILL "\x18" IAC WILL "\x1f" IAC WILL           \
           "\x20" IAC WILL "\x21" IAC WILL "\x22" IAC WILL "\x27" IAC DO "\x05"
/*  ... and the refusals it must get.                                     */
#define INETUTILS_REFUSED                                                                          \
    IAC WONT "\x26" IAC DONT "\x26" IAC WONT "\x03" IAC DONT "\x18" IAC DONT "\x1f" IAC DONT       \
             "\x20" IAC DONT "\x21" IAC DONT "\x22" IAC DONT "\x27" IAC WONT "\x05"
/*  Ctrl-C in inetutils telnet: Interrupt Process, then DO TIMING-MARK.   */
#define CTRL_C IAC IP IAC DO TM

#endif
