/* SPDX-License-Identifier: MIT */
/*  web_assets: the chat page's files (web/), embedded in the binary at
    build time by scripts/embed-web.sh (a Makefile rule), so the server
    reads no file at run time and a copied binary serves its own page.  */
#ifndef TCPCHAT_WEB_ASSETS_H
#define TCPCHAT_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char          *path; /* "/" for index.html, else "/NAME"; NULL ends the table */
    const char          *type; /* its Content-Type */
    const unsigned char *data;
    size_t               size;
} web_asset_t;

extern const web_asset_t web_assets [];

#endif
