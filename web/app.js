// SPDX-License-Identifier: MIT
// Placeholder (the web gateway's branch): the page's own app.js replaces it.
'use strict';
