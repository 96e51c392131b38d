#!/bin/sh
# Runs from the official nginx image's /docker-entrypoint.d/ before nginx starts (docs/operations.md#nginx).
#
# REAL_IP_FROM lists the CIDRs of a load balancer or CDN in front of nginx, separated by commas
# or spaces. For each one it writes a `set_real_ip_from` line, so `$remote_addr` (and with it the
# X-Forwarded-For that nginx sends to the replicas) becomes the client address from that peer's
# X-Forwarded-For. Unset or empty: the file stays empty and the direct peer is the client.
#
# This is a small script rather than an envsubst template because a template cannot expand a
# list into several directives, nor leave the directive out when the variable is empty.
# TASKIFY_NGINX_INCLUDE_DIR overrides the output folder (for testing outside the container).
set -eu

out_dir=${TASKIFY_NGINX_INCLUDE_DIR:-/etc/nginx/taskify.d}
out_file="$out_dir/real-ip.conf"
mkdir -p "$out_dir"

list=$(printf '%s' "${REAL_IP_FROM:-}" | tr ',' ' ')
if [ -z "$(printf '%s' "$list" | tr -d ' \t')" ]; then
    : >"$out_file"
    echo "15-taskify-real-ip.sh: REAL_IP_FROM is empty; the direct peer is the client address"
    exit 0
fi

{
    echo "# Generated from REAL_IP_FROM at container start."
    for cidr in $list; do
        case "$cidr" in
            *[!0-9A-Fa-f.:/]*)
                echo "15-taskify-real-ip.sh: invalid entry in REAL_IP_FROM: $cidr" >&2
                exit 1
                ;;
        esac
        echo "set_real_ip_from $cidr;"
    done
    echo "real_ip_header X-Forwarded-For;"
    echo "real_ip_recursive on;"
} >"$out_file.tmp"
mv "$out_file.tmp" "$out_file"
echo "15-taskify-real-ip.sh: trusting X-Forwarded-For from: $list"
