#!/bin/sh
# Test certificates for the Device42 emulator, made with the openssl CLI.
# Usage: sh tests/mkcerts.sh DIR
# Creates in DIR:
#   ca.crt ca.key                 a test CA
#   server.crt server.key         signed by the CA, SAN IP:127.0.0.1, IP:::1,
#                                 DNS:localhost
#   wrongname.crt wrongname.key   signed by the CA, SAN DNS:wrong.invalid only
#   selfsigned.crt selfsigned.key self-signed (untrusted), SAN as server.crt
#   NAME.sha256                   SHA-256 of each leaf certificate's DER, as
#                                 64 lowercase hex digits
# and prints server.crt's SHA-256 fingerprint (the same 64 hex digits).
# Keys are ECDSA P-256 (MKCERTS_KEY=rsa: RSA 2048), valid for 30 days.
set -eu
dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
days=30

case ${MKCERTS_KEY:-ec} in
rsa) newkey="-newkey rsa:2048" ;;
*) newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
esac

quiet() { "$@" >/dev/null 2>openssl.err || { cat openssl.err >&2; exit 1; }; }

# $1 name, $2 subjectAltName
extfile() {
	cat >"$1.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$2
EOF
}

fingerprint() {
	openssl x509 -in "$1.crt" -outform DER | openssl dgst -sha256 -r |
		cut -d' ' -f1 >"$1.sha256"
}

# $1 name, $2 CN, $3 SAN: a leaf signed by the CA
leaf() {
	extfile "$1" "$3"
	# shellcheck disable=SC2086
	quiet openssl req -new $newkey -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "/CN=$2"
	quiet openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key \
		-set_serial "0x$(openssl rand -hex 8)" -days $days \
		-extfile "$1.ext" -out "$1.crt"
	rm -f "$1.csr" "$1.ext"
	fingerprint "$1"
}

# shellcheck disable=SC2086
quiet openssl req -x509 $newkey -nodes -keyout ca.key -out ca.crt -days $days \
	-subj "/CN=d42pcap test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash"

san_ok="IP:127.0.0.1,IP:::1,DNS:localhost"
leaf server localhost "$san_ok"
leaf wrongname wrong.invalid "DNS:wrong.invalid"

# self-signed: right names, but no CA vouches for it
extfile selfsigned "$san_ok"
# shellcheck disable=SC2086
quiet openssl req -x509 $newkey -nodes -keyout selfsigned.key \
	-out selfsigned.crt -days $days -subj "/CN=localhost" \
	-extensions v3_self -config /dev/stdin <<EOF
[req]
distinguished_name=dn
[dn]
[v3_self]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san_ok
EOF
rm -f selfsigned.ext openssl.err
fingerprint selfsigned
chmod 644 ./*.crt ./*.sha256
cat server.sha256
