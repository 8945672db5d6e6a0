/* SPDX-License-Identifier: MIT */
/*  endpoints: the actors' inproc endpoints. See endpoints.h.  */
#include "endpoints.h"

#include <stdio.h>

//  The longest suffix below fits whatever prefix config_t can hold.
_Static_assert(sizeof ((config_t *) 0)->endpoint + sizeof "/room-4294967295-4294967295" <=
                   ENDPOINT_MAX,
               "ENDPOINT_MAX too small for config_t.endpoint");

void
endpoint_hub (const config_t *config, unsigned g, char buf [ENDPOINT_MAX])
{
    snprintf (buf, ENDPOINT_MAX, "%s/hub-%u", config->endpoint, g);
}

void
endpoint_room (const config_t *config, unsigned seq, unsigned g, char buf [ENDPOINT_MAX])
{
    snprintf (buf, ENDPOINT_MAX, "%s/room-%u-%u", config->endpoint, seq, g);
}

void
endpoint_cluster (const config_t *config, char buf [ENDPOINT_MAX])
{
    snprintf (buf, ENDPOINT_MAX, "%s/cluster", config->endpoint);
}

void
endpoint_room_cluster (const config_t *config, unsigned seq, char buf [ENDPOINT_MAX])
{
    snprintf (buf, ENDPOINT_MAX, "%s/room-%u-cluster", config->endpoint, seq);
}
