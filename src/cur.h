/* Bounds-checked read cursor over untrusted bytes (packets, files, network).
 * Every read checks the remaining length first; a failed read returns -1 (or
 * NULL) and leaves the cursor unchanged, so a caller can never index past the
 * captured length. All multi-byte reads are network (big-endian) order unless
 * the name says _le. */
#ifndef D42_CUR_H
#define D42_CUR_H

#include <stddef.h>
#include <stdint.h>

struct cur {
	const uint8_t *p;   /* start of the buffer */
	size_t len;         /* bytes readable from p */
	size_t off;         /* next byte to read */
};

static inline void cur_init(struct cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
}

static inline size_t cur_left(const struct cur *c)
{
	return c->len - c->off;
}

/* Pointer to the next n bytes, advancing past them; NULL if fewer remain. */
static inline const uint8_t *cur_getptr(struct cur *c, size_t n)
{
	const uint8_t *r;

	if (n > cur_left(c))
		return NULL;
	r = c->p + c->off;
	c->off += n;
	return r;
}

/* Like cur_getptr but does not advance. */
static inline const uint8_t *cur_peek(const struct cur *c, size_t n)
{
	return n > cur_left(c) ? NULL : c->p + c->off;
}

static inline int cur_skip(struct cur *c, size_t n)
{
	return cur_getptr(c, n) ? 0 : -1;
}

static inline int cur_u8(struct cur *c, uint8_t *v)
{
	const uint8_t *b = cur_getptr(c, 1);

	if (!b)
		return -1;
	*v = b[0];
	return 0;
}

static inline int cur_be16(struct cur *c, uint16_t *v)
{
	const uint8_t *b = cur_getptr(c, 2);

	if (!b)
		return -1;
	*v = (uint16_t)((b[0] << 8) | b[1]);
	return 0;
}

static inline int cur_be32(struct cur *c, uint32_t *v)
{
	const uint8_t *b = cur_getptr(c, 4);

	if (!b)
		return -1;
	*v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
	     ((uint32_t)b[2] << 8) | b[3];
	return 0;
}

static inline int cur_le32(struct cur *c, uint32_t *v)
{
	const uint8_t *b = cur_getptr(c, 4);

	if (!b)
		return -1;
	*v = ((uint32_t)b[3] << 24) | ((uint32_t)b[2] << 16) |
	     ((uint32_t)b[1] << 8) | b[0];
	return 0;
}

/* A sub-cursor over the next n bytes (advancing the parent past them). */
static inline int cur_sub(struct cur *c, size_t n, struct cur *sub)
{
	const uint8_t *b = cur_getptr(c, n);

	if (!b)
		return -1;
	cur_init(sub, b, n);
	return 0;
}

/* A sub-cursor over the next n bytes, or over all that remain if fewer
 * (advancing the parent past them). Cannot fail. */
static inline void cur_sub_upto(struct cur *c, size_t n, struct cur *sub)
{
	size_t left = cur_left(c);

	if (n > left)
		n = left;
	cur_init(sub, c->p + c->off, n);
	c->off += n;
}

#endif
