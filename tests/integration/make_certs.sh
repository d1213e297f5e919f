#!/bin/sh
# Makes test certificates in DIR: a CA "ca" with a server certificate "server"
# (localhost, 127.0.0.1) and a client certificate "client"; an unrelated CA
# "other-ca" with "other-client" and "other-server".
#   make_certs.sh DIR
set -eu
cd "$1"
ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$1.key" -out "$1.crt" -subj "/CN=$1" 2>/dev/null
}
leaf() {  # NAME CA EXTENSIONS
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
    -out "$1.crt" -extfile "$1.ext" 2>/dev/null
}
server="subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
client="extendedKeyUsage=clientAuth\n"
ca ca
ca other-ca
leaf server ca "$server"
leaf client ca "$client"
leaf other-server other-ca "$server"
leaf other-client other-ca "$client"
