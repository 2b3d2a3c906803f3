/* Hexadecimal digit value, shared by the parsers (JSON \u escapes, HTTP
 * chunk sizes, TLS fingerprints). */
#ifndef D42_HEX_H
#define D42_HEX_H

#define HEX_DIGIT_A 10	/* value of 'a'/'A' */

/* 0..15, or -1 if ch is not a hexadecimal digit (either case). */
static inline int hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + HEX_DIGIT_A;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + HEX_DIGIT_A;
	return -1;
}

#endif
