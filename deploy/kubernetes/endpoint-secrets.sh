#!/bin/sh
# Generates the endpoint's Secrets for deploy/kubernetes/flowscope.yaml (the Helm chart makes the same
# at installation): a CA, the agents' certificate (name flowscope-agent: the scraper's
# tls_config.server_name) and a random password, as
#   flowscope-web      (namespace flowscope):  web.yml (exporter-toolkit format), tls.crt, tls.key
#   flowscope-scrape   (the scraper's namespace): username, password, server_name, ca.crt
# Usage: deploy/kubernetes/endpoint-secrets.sh [SCRAPER_NAMESPACE] | kubectl apply -f -
# Needs openssl and htpasswd (Debian: apache2-utils). Nothing is written outside a temporary directory.
set -eu
scraper_ns=${1:-monitoring}
user=prometheus
name=flowscope-agent
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 -subj /CN=flowscope-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/CN=$name" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$name" >"$dir/ext"
openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/tls.crt" -days 3650 -extfile "$dir/ext" 2>/dev/null
password=$(openssl rand -base64 24 | tr -d '/+=\n')
hash=$(htpasswd -nbBC 10 "$user" "$password" | cut -d: -f2)
indent() { sed 's/^/    /' "$1"; }
cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: flowscope-web
  namespace: flowscope
  labels:
    app.kubernetes.io/name: flowscope
type: Opaque
stringData:
  web.yml: |
    tls_server_config:
      cert_file: tls.crt
      key_file: tls.key
      min_version: TLS12
    basic_auth_users:
      $user: $hash
    # The kubelet's probes: /healthz says whether intervals run, and nothing about the node.
    auth_excluded_paths: [/healthz]
  tls.crt: |
$(indent "$dir/tls.crt")
  tls.key: |
$(indent "$dir/tls.key")
---
apiVersion: v1
kind: Secret
metadata:
  name: flowscope-scrape
  namespace: $scraper_ns
  labels:
    app.kubernetes.io/name: flowscope
type: Opaque
stringData:
  username: $user
  password: $password
  server_name: $name
  ca.crt: |
$(indent "$dir/ca.crt")
YAML
