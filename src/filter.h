/* The configured include/ignore lists, compiled into one BPF expression so
 * the kernel drops unwanted packets before they are copied to us. */
#ifndef D42_FILTER_H
#define D42_FILTER_H

#include <stddef.h>
#include "config.h"

#define FILTER_MAX_EXPR (64 * 1024)	/* bytes of filter expression */

/* Writes the expression ("" when nothing is filtered). With vlan, the
 * expression also matches frames under one or two 802.1Q/802.1ad tags
 * (only valid on link types where libpcap knows VLANs, i.e. Ethernet).
 * Returns 0, or -1 if it does not fit or nothing could ever match. */
int filter_build(const struct config *c, int vlan, char *out, size_t outsz);

#endif
