/*
 * d42pcap's mbedTLS 3.6 configuration for the static builds (docs/STATIC.md).
 *
 * The static build copies this file over include/mbedtls/mbedtls_config.h of
 * the pinned mbedTLS before building it and before installing its headers,
 * so the library and d42pcap always agree on it (struct layouts depend on
 * the configuration).
 *
 * Scope: a TLS client that posts JSON to a Device42 appliance.
 *   TLS 1.2 and 1.3, client side only; ECDHE over X25519, P-256, P-384;
 *   server authentication by RSA (PKCS#1 v1.5 and PSS) or ECDSA signatures;
 *   AES-GCM and ChaCha20-Poly1305; SHA-256/384; X.509 certificates in PEM
 *   or DER. No server, DTLS, renegotiation, PSK, static RSA/DH key exchange,
 *   CBC or legacy ciphers, session resumption, or key generation.
 * Unused functions are dropped at link time (--gc-sections), so what this
 * file really decides is what the handshake can negotiate and reach.
 */
#ifndef D42_MBEDTLS_CONFIG_H
#define D42_MBEDTLS_CONFIG_H

/* --- System ------------------------------------------------------------ */
#if !defined(__mips16)             /* MIPS16 code cannot hold the MIPS asm */
#define MBEDTLS_HAVE_ASM            /* bignum inner loops */
#endif
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE      /* certificate validity periods */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_FS_IO               /* CA bundle from a file */
#define MBEDTLS_NET_C               /* mbedtls_net_* socket helpers */
/* No MBEDTLS_ERROR_C: its message table costs ~15 KiB, which the size
 * budget cannot spare on aarch64; errors are logged as -0xNNNN codes
 * (include/mbedtls/*.h names them). mbedtls_strerror still links. */
#define MBEDTLS_ERROR_STRERROR_DUMMY
#define MBEDTLS_VERSION_C

/* --- Random numbers ---------------------------------------------------- */
#define MBEDTLS_ENTROPY_C           /* getrandom(2) / /dev/urandom */
#define MBEDTLS_CTR_DRBG_C

/* --- Symmetric ciphers: AEAD only -------------------------------------- */
/* AES-GCM only: every TLS 1.2 and 1.3 server offers it (TLS 1.3 requires
 * AES-128-GCM), and ChaCha20-Poly1305 (3.6 KiB on aarch64) was traded for
 * the size budget (docs/STATIC.md). */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_FEWER_TABLES    /* 2 KiB of tables instead of 8 KiB */
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C

/* --- Hashes ------------------------------------------------------------ */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER      /* rolled loops: smaller code */
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C            /* SHA-384 is SHA-512 truncated */
#define MBEDTLS_SHA512_SMALLER
#define MBEDTLS_HKDF_C              /* TLS 1.3 key schedule (PSA HKDF) */

/* --- Public keys ------------------------------------------------------- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15           /* RSA signatures on certificates */
#define MBEDTLS_PKCS1_V21           /* RSA-PSS: TLS 1.3 CertificateVerify */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
/* No MBEDTLS_ECP_NIST_OPTIM: its 4 KiB are aarch64's size headroom; X25519
 * is offered first, and P-256/P-384 stay, 2-3x slower once per handshake. */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C

/* --- X.509 ------------------------------------------------------------- */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C        /* ECDSA signature (de)serialisation */
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT /* also offers RSA-PSS in TLS 1.3 */

/* --- PSA Crypto: required by TLS 1.3 in 3.6 ---------------------------- */
/* The application must call psa_crypto_init() before the first handshake. */
#define MBEDTLS_PSA_CRYPTO_C

/* --- TLS --------------------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE   /* through middleboxes */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET      /* TLS 1.2 (RFC 7627) */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE       /* required by TLS 1.3 */

#endif /* D42_MBEDTLS_CONFIG_H */
