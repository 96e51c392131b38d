#!/bin/sh
# Renders the shipped nginx.conf for nginx running outside Docker, as an ordinary process:
#
#   deploy/nginx/render-local.sh OUT_DIR LISTEN_PORT UPSTREAM_PORT...
#
# writes OUT_DIR/nginx.conf (plus OUT_DIR/logs, OUT_DIR/temp and OUT_DIR/taskify.d) in which
#   * the upstream's `server api:8080 resolve PARAMS;` becomes one `server 127.0.0.1:PORT PARAMS;`
#     per UPSTREAM_PORT (no Docker DNS here, and nginx < 1.27.3 rejects `resolve`);
#   * `listen 80` becomes `listen 127.0.0.1:LISTEN_PORT`;
#   * the pid file, logs, temp folders and the taskify.d include move under OUT_DIR;
#   * `user` names the current user (ignored by nginx unless it runs as root).
# Everything else (upstream parameters, timeouts, retries, headers, locations) is the shipped file
# unchanged. REAL_IP_FROM is applied by running 15-taskify-real-ip.sh, as the container does.
#
# Each rewritten line must be found exactly once, so a change to nginx.conf that this script does
# not know about fails here instead of being silently tested in an outdated form.
# Start nginx with: nginx -p OUT_DIR -e OUT_DIR/logs/error.log -c OUT_DIR/nginx.conf
set -eu

if [ "$#" -lt 3 ]; then
    echo "usage: $0 OUT_DIR LISTEN_PORT UPSTREAM_PORT..." >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
listen=$2
shift 2
for port in "$listen" "$@"; do
    case "$port" in
        '' | *[!0-9]*)
            echo "render-local.sh: not a port: $port" >&2
            exit 2
            ;;
    esac
done

mkdir -p "$out/logs" "$out/temp" "$out/taskify.d"
TASKIFY_NGINX_INCLUDE_DIR="$out/taskify.d" sh "$here/15-taskify-real-ip.sh" >/dev/null

awk -v out="$out" -v listen="$listen" -v ports="$*" -v user="$(id -un)" '
    function done(key) { seen[key]++ }
    /^user [^;]*;$/ { print "user " user ";"; done("user"); next }
    /^pid [^;]*;$/ { print "pid " out "/nginx.pid;"; done("pid"); next }
    /^error_log [^ ]+ / { sub(/^error_log [^ ]+/, "error_log " out "/logs/error.log"); print; done("error_log"); next }
    /^http \{$/ {
        print
        print "    client_body_temp_path " out "/temp/body;"
        print "    proxy_temp_path " out "/temp/proxy;"
        print "    fastcgi_temp_path " out "/temp/fastcgi;"
        print "    uwsgi_temp_path " out "/temp/uwsgi;"
        print "    scgi_temp_path " out "/temp/scgi;"
        done("http"); next
    }
    /^ *access_log \/var\/log\/nginx\/access\.log / { sub(/\/var\/log\/nginx\/access\.log/, out "/logs/access.log"); print; done("access_log"); next }
    /^ *server api:8080 resolve[ ;]/ {
        params = $0
        sub(/^ *server api:8080 resolve */, "", params)
        n = split(ports, list, " ")
        for (i = 1; i <= n; i++) print "        server 127.0.0.1:" list[i] " " params
        done("server"); next
    }
    /^ *listen 80 default_server;$/ { print "        listen 127.0.0.1:" listen " default_server;"; done("listen"); next }
    /^ *include \/etc\/nginx\/taskify\.d\/\*\.conf;$/ { print "        include " out "/taskify.d/*.conf;"; done("include"); next }
    { print }
    END {
        split("user pid error_log http access_log server listen include", keys, " ")
        for (k in keys) if (seen[keys[k]] != 1) {
            printf "render-local.sh: expected one line for \"%s\" in nginx.conf, found %d\n", keys[k], seen[keys[k]] > "/dev/stderr"
            failed = 1
        }
        exit failed
    }
' "$here/nginx.conf" >"$out/nginx.conf.tmp"
mv "$out/nginx.conf.tmp" "$out/nginx.conf"
