#!/usr/bin/env bash
# Generates a CA and a server certificate (localhost, 127.0.0.1) for docker-compose.yml's SSL
# listener, as PEM files Kafka reads directly (ssl.keystore.type=PEM).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p certs && cd certs
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=gregor-test-ca" \
  -keyout ca.key -out ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
  -extfile san.ext -out server.pem
# Kafka's PEM keystore: the private key (PKCS#8) followed by the certificate chain.
openssl pkcs8 -topk8 -nocrypt -in server.key -out server.pk8
cat server.pk8 server.pem ca.pem > server-keystore.pem
chmod 644 ./*.pem
echo "certificates in $(pwd); clients trust ca.pem"
