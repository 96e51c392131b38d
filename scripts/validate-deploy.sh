#!/usr/bin/env bash
# Validates the deployment files offline, without Docker or a Kubernetes cluster:
#
#   1. deploy/kubernetes/*.yaml against the Kubernetes OpenAPI schemas, strictly (unknown fields
#      are errors), with kubernetes-validate, which ships the schemas; then the cross-file rules
#      that no schema knows (see check_kubernetes below);
#   2. deploy/docker-compose.yml against the Compose Specification's JSON schema (vendored by
#      check-jsonschema), and that the files it mounts or builds from exist;
#   3. `nginx -t` with Debian's nginx on the shipped deploy/nginx/nginx.conf, rendered for local
#      use by deploy/nginx/render-local.sh (once without and once with REAL_IP_FROM).
#
# Installs what is missing: the two PyPI tools, pinned, in a virtualenv under
# target/deploy-tools/ (or $DEPLOY_TOOLS_DIR), and nginx with apt-get when running as root.
# Prints what it validated; exits 1 when any check fails, 2 when a tool cannot be installed.
#
# Never validated here (no engine on these machines): building the image and running the compose
# file or the manifests. See docs/deployment.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly KUBERNETES_VALIDATE_VERSION=1.37.0
readonly CHECK_JSONSCHEMA_VERSION=0.39.0
readonly KUBERNETES_VERSION=1.37.0
TOOLS=${DEPLOY_TOOLS_DIR:-$ROOT/target/deploy-tools}
readonly TOOLS

failures=0
pass() { printf '  ok    %s\n' "$*"; }
fail() {
  printf '  FAIL  %s\n' "$*" >&2
  failures=$((failures + 1))
}
die() {
  printf 'validate-deploy: %s\n' "$*" >&2
  exit 2
}

# --- tools -----------------------------------------------------------------------------------

install_python_tools() {
  local want="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
  if [[ -f $TOOLS/installed && $(cat "$TOOLS/installed") == "$want" ]]; then
    return 0
  fi
  echo "installing into $TOOLS: $want"
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  # shellcheck disable=SC2086 # two words on purpose
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check $want || die "pip install failed"
  printf '%s' "$want" >"$TOOLS/installed"
}

nginx_bin() {
  command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }
}

install_nginx() {
  if [[ -n $(nginx_bin) ]]; then
    return 0
  fi
  ((EUID == 0)) || die "nginx is not installed and this is not root: apt-get install nginx"
  echo "installing nginx (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null ||
    die "apt-get install nginx failed"
}

# --- 1. Kubernetes ---------------------------------------------------------------------------

# Rules across files that the schemas cannot express. Prints one line per finding.
check_kubernetes() {
  "$TOOLS/bin/python" - "$ROOT/deploy/kubernetes" <<'PY'
import pathlib, re, sys
import yaml

folder = pathlib.Path(sys.argv[1])
problems = []
docs = {}
for path in sorted(folder.glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            docs.setdefault(doc["kind"], []).append((path.name, doc))

kustomization = docs.pop("Kustomization")[0][1]
listed = set(kustomization.get("resources", []))
for name in listed:
    if not (folder / name).is_file():
        problems.append(f"kustomization.yaml lists {name}, which does not exist")
for path in folder.glob("*.yaml"):
    name = path.name
    optional = ".example." in name or ".template." in name
    if name != "kustomization.yaml" and not optional and name not in listed:
        problems.append(f"{name} is not listed in kustomization.yaml (name it *.example.yaml if optional)")

def one(kind, name=None):
    found = [d for _, d in docs.get(kind, []) if name is None or d["metadata"]["name"] == name]
    if len(found) != 1:
        problems.append(f"expected one {kind} {name or ''}, found {len(found)}")
        return {}
    return found[0]

def seconds(value):
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(value))
    if not m:
        problems.append(f"cannot read the duration {value!r}")
        return 0
    n, unit = int(m[1]), m[2]
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n

config = one("ConfigMap", "taskify-config").get("data", {})
secret = one("Secret", "taskify-secrets")
deployment = one("Deployment", "taskify")
job = one("Job", "taskify-migrate")
pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
container = (pod.get("containers") or [{}])[0]

if config.get("DB_MIGRATE_ON_START") != "false":
    problems.append("the ConfigMap must set DB_MIGRATE_ON_START=false (the Job migrates)")
drain = seconds(config.get("SHUTDOWN_DRAIN_DELAY", "5s"))
shutdown = seconds(config.get("SHUTDOWN_TIMEOUT", "30s"))
grace = pod.get("terminationGracePeriodSeconds", 30)
# About 10 s after the last request: the job workers stop and the audit buffer is flushed.
if grace <= drain + shutdown + 10:
    problems.append(f"terminationGracePeriodSeconds {grace} must exceed drain {drain} + shutdown {shutdown} + 10")
probes = {k: container.get(k, {}).get("httpGet", {}).get("path") for k in ("readinessProbe", "livenessProbe")}
if probes != {"readinessProbe": "/ready", "livenessProbe": "/live"}:
    problems.append(f"probes must be readiness /ready and liveness /live, found {probes}")
for where, spec in (("Deployment", pod), ("Job", job.get("spec", {}).get("template", {}).get("spec", {}))):
    c = (spec.get("containers") or [{}])[0]
    sc = c.get("securityContext", {})
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{where}: runAsNonRoot is not set")
    if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: needs readOnlyRootFilesystem and allowPrivilegeEscalation: false")
    if not c.get("resources", {}).get("requests") or not c.get("resources", {}).get("limits"):
        problems.append(f"{where}: resources need requests and limits")
    refs = [e.get("configMapRef", e.get("secretRef", {})).get("name") for e in c.get("envFrom", [])]
    if refs != ["taskify-config", "taskify-secrets"]:
        problems.append(f"{where}: envFrom must be taskify-config then taskify-secrets, found {refs}")
if (job.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0].get("args") != ["migrate"]:
    problems.append("the Job must run `taskify migrate`")
for key in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET"):
    if key not in secret.get("stringData", {}):
        problems.append(f"secret.template.yaml lacks {key}")
labels = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
for kind in ("Service", "PodDisruptionBudget"):
    d = one(kind)
    selector = d.get("spec", {}).get("selector", {})
    selector = selector.get("matchLabels", selector)
    if selector != labels:
        problems.append(f"the {kind} selects {selector}, the Deployment's pods carry {labels}")
hpa = one("HorizontalPodAutoscaler")
if hpa.get("spec", {}).get("scaleTargetRef", {}).get("name") != "taskify":
    problems.append("the HPA does not target the Deployment")
if not container.get("resources", {}).get("requests", {}).get("cpu"):
    problems.append("the HPA scales on CPU: the container needs a CPU request")
for p in problems:
    print(p)
PY
}

validate_kubernetes() {
  echo "Kubernetes manifests (deploy/kubernetes, schemas of Kubernetes $KUBERNETES_VERSION, strict):"
  local file out
  for file in deploy/kubernetes/*.yaml; do
    [[ $(basename "$file") == kustomization.yaml ]] && continue
    if out=$("$TOOLS/bin/kubernetes-validate" --strict --no-warn -k "$KUBERNETES_VERSION" "$file" 2>&1); then
      while IFS= read -r line; do
        [[ $line == *passed* ]] && pass "${line#INFO }"
      done <<<"$out"
    else
      fail "$out"
    fi
  done
  if out=$(check_kubernetes) && [[ -z $out ]]; then
    pass "kustomization.yaml lists every manifest; probes, security context, grace period, Job, selectors, HPA"
  else
    while IFS= read -r line; do fail "kubernetes: $line"; done <<<"${out:-the rule checker failed}"
  fi
}

# --- 2. Compose ------------------------------------------------------------------------------

validate_compose() {
  echo "Compose (deploy/docker-compose.yml, Compose Specification schema of check-jsonschema $CHECK_JSONSCHEMA_VERSION):"
  local file=$ROOT/deploy/docker-compose.yml out
  if out=$("$TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$file" 2>&1); then
    pass "docker-compose.yml matches the Compose Specification"
  else
    fail "$out"
  fi
  if out=$("$TOOLS/bin/python" - "$file" <<'PY'
import pathlib, re, sys
import yaml
path = pathlib.Path(sys.argv[1])
compose = yaml.safe_load(path.read_text())
base = path.parent
for name, service in compose["services"].items():
    for volume in service.get("volumes", []):
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith("."):
            if not (base / source).exists():
                print(f"{name}: mounts {source}, which does not exist")
    build = service.get("build")
    if isinstance(build, dict):
        context = base / build.get("context", ".")
        if not (context / build.get("dockerfile", "Dockerfile")).is_file():
            print(f"{name}: build.dockerfile not found from {context}")
api = compose["services"]["api"]
env = api.get("environment", {})
def seconds(name, v):
    # `${VAR:-default}` is judged by its default (what runs when .env does not set it).
    d = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", str(v))
    m = re.fullmatch(r"(\d+)(s|m)", d[1] if d else str(v))
    if not m:
        print(f"api: cannot read {name}={v!r} as a duration in s or m")
        return 0
    return int(m[1]) * (60 if m[2] == "m" else 1)
grace = seconds("stop_grace_period", api.get("stop_grace_period", "10s"))
drain = seconds("SHUTDOWN_DRAIN_DELAY", env.get("SHUTDOWN_DRAIN_DELAY", "5s"))
budget = drain + seconds("SHUTDOWN_TIMEOUT", env.get("SHUTDOWN_TIMEOUT", "30s")) + 10
if grace <= budget:
    print(f"api: stop_grace_period ({grace} s) must exceed drain + SHUTDOWN_TIMEOUT + 10 s ({budget} s)")
PY
  ) && [[ -z $out ]]; then
    pass "mounted files and the Dockerfile exist; api stop_grace_period covers drain and shutdown"
  else
    while IFS= read -r line; do fail "compose: $line"; done <<<"${out:-the rule checker failed}"
  fi
}

# --- 3. nginx --------------------------------------------------------------------------------

validate_nginx() {
  local nginx out dir
  nginx=$(nginx_bin)
  echo "nginx (deploy/nginx/nginx.conf rendered by render-local.sh, $("$nginx" -v 2>&1)):"
  dir=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$dir'" RETURN
  local real_ip
  for real_ip in "" "10.0.0.0/8, 192.168.1.0/24 2001:db8::/32"; do
    rm -rf "$dir/conf"
    if ! out=$(REAL_IP_FROM=$real_ip "$ROOT/deploy/nginx/render-local.sh" "$dir/conf" 18080 18081 18082 18083 2>&1); then
      fail "render-local.sh: $out"
      continue
    fi
    if out=$("$nginx" -t -q -p "$dir/conf" -e "$dir/conf/logs/error.log" -c "$dir/conf/nginx.conf" 2>&1); then
      pass "nginx -t, 3 upstream servers, REAL_IP_FROM='${real_ip}'"
    else
      fail "nginx -t (REAL_IP_FROM='${real_ip}'): $out"
    fi
  done
  if REAL_IP_FROM="10.0.0.0/8;evil" TASKIFY_NGINX_INCLUDE_DIR="$dir/bad" sh "$ROOT/deploy/nginx/15-taskify-real-ip.sh" >/dev/null 2>&1; then
    fail "15-taskify-real-ip.sh accepted an invalid REAL_IP_FROM"
  else
    pass "15-taskify-real-ip.sh rejects an invalid REAL_IP_FROM"
  fi
}

main() {
  cd "$ROOT"
  command -v python3 >/dev/null 2>&1 || die "python3 is required"
  install_python_tools
  install_nginx
  validate_kubernetes
  validate_compose
  validate_nginx
  if ((failures > 0)); then
    printf 'validate-deploy: %d check(s) failed\n' "$failures" >&2
    exit 1
  fi
  echo "validate-deploy: all checks passed (nothing was built, started or deployed)"
}

main "$@"
