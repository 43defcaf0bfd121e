#!/usr/bin/env bash
# CI smoke test for a mesostack stack: check the host, bring the stack up, deploy one app, wait
# until its task prints the expected text, check the stack's status; on failure write a
# diagnostic bundle; always tear the stack down. Installs nothing: it runs the `mesostack` on
# PATH (or $MESOSTACK).
#
#   MESOSTACK_FILE=examples/testbed.yaml bash examples/ci/smoke.sh
#
# Inputs (environment):
#   MESOSTACK       the mesostack command                      [mesostack]
#   MESOSTACK_FILE  the stack file; mesostack reads it itself  [./stack.yaml, else the default]
#   SMOKE_APP       the app to deploy: one Marathon app, JSON or YAML; a relative path is
#                   looked up in the current directory, then in this repository
#                                                                    [examples/basic-0.json]
#   SMOKE_EXPECT    text the task's stdout must contain; empty: any output  [Hello Marathon]
#   SMOKE_TIMEOUT   seconds `deploy`, then the wait for that text, may each take  [120]
#   SMOKE_BUNDLE    where the diagnostic bundle goes on failure [mesostack-bundle.tar.gz]
# Exit 0 when every step passed; otherwise the failed step's exit code (1 when it had none),
# after one last line naming the step. Once it has reached the engine (`doctor` on), it always
# ends with `mesostack down`, pass, fail or Ctrl-C, after writing the bundle on failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MESOSTACK=${MESOSTACK:-mesostack}
SMOKE_APP=${SMOKE_APP:-examples/basic-0.json}
if [[ $SMOKE_APP != /* && ! -e $SMOKE_APP && -e $repo/$SMOKE_APP ]]; then
    SMOKE_APP=$repo/$SMOKE_APP
fi
SMOKE_EXPECT=${SMOKE_EXPECT-Hello Marathon}
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-120}
SMOKE_BUNDLE=${SMOKE_BUNDLE:-mesostack-bundle.tar.gz}
POLL_INTERVAL_S=2

failed=""      # the first step that failed
failed_rc=0
why=""         # what went wrong, when the step's own output does not say it
current=""     # the step running now (for an unexpected exit)
started_ms=0

log() { echo "smoke: $*" >&2; }

now_ms() {  # wall clock in milliseconds (EPOCHREALTIME, decimal point or comma)
    local us=${EPOCHREALTIME//[!0-9]/}
    echo $((10#$us / 1000))
}

seconds_since() {  # seconds since $1 (ms), one decimal
    local ms=$(($(now_ms) - $1))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

group() {  # fold each step's output in GitHub Actions logs
    [ "${GITHUB_ACTIONS:-}" != true ] || echo "::$1::${2:-}" >&2
}

# step NAME COMMAND...: run one step with a header and its duration; remember the first failure.
step() {
    local name=$1 rc=0 t0 copy copier
    shift
    current=$name
    group group "smoke: $name"
    if declare -F "$1" >/dev/null; then log "==> $name"; else log "==> $name: $*"; fi
    t0=$(now_ms)
    # stderr shown as it comes and kept for the reason; the copier is waited for once the
    # step's end closed its input, so that everything is shown before what follows.
    exec {copy}> >(tee "$errors" >&2)
    copier=$!
    "$@" 2>&"$copy" || rc=$?
    exec {copy}>&-
    wait "$copier" 2>/dev/null || true
    group endgroup
    if [ "$rc" = 0 ]; then
        log "<== $name: ok ($(seconds_since "$t0") s)"
    else
        log "<== $name: FAILED, exit $rc ($(seconds_since "$t0") s)"
        if [ -z "$failed" ]; then
            failed=$name; failed_rc=$rc
            # mesostack's own one-line reason, for the last line
            why=${why:-$(sed -n 's/^mesostack: error: //p' "$errors" | tail -n 1)}
        fi
    fi
    current=""
    return "$rc"
}

# The id of the one app in $SMOKE_APP, from mesostack's own validation of the file.
app_id() {
    local requests
    requests=$("$MESOSTACK" deploy --dry-run "$SMOKE_APP") || return
    python3 -c '
import json, sys
bodies = [json.loads(line)["body"] for line in sys.stdin if line.strip()]
ids = [b.get("id") for b in bodies if isinstance(b, dict) and "apps" not in b]
if len(bodies) != 1 or len(ids) != 1 or not ids[0]:
    sys.exit(f"{sys.argv[1]}: expected one app (not a group or a list), found {len(bodies)} "
             "request(s)")
print(ids[0])
' "$SMOKE_APP" <<<"$requests"
}

read_app() {
    APP_ID=$(app_id) || return
    log "app $APP_ID from $SMOKE_APP; expecting ${SMOKE_EXPECT:+\"$SMOKE_EXPECT\" in }its output"
}

# Poll the task's stdout until it shows $SMOKE_EXPECT (any output when empty) or time runs out.
task_output() {
    local deadline=$((SECONDS + SMOKE_TIMEOUT)) output=""
    while :; do
        if output=$("$MESOSTACK" task-logs "$APP_ID" 2>&1) && [ -n "$output" ] &&
                [[ $output == *"$SMOKE_EXPECT"* ]]; then
            printf '%s\n' "$output" | tail -n 5
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "last answer of \`task-logs $APP_ID\`:"
            printf '%s\n' "${output:-(nothing)}" | tail -n 10 >&2
            why="no \"$SMOKE_EXPECT\" in $APP_ID's output within $SMOKE_TIMEOUT s"
            [ -n "$SMOKE_EXPECT" ] || why="no output from $APP_ID within $SMOKE_TIMEOUT s"
            return 1
        fi
        sleep "$POLL_INTERVAL_S"
    done
}

bundle() {
    if ! "$MESOSTACK" bundle --help >/dev/null 2>&1; then
        log "no diagnostic bundle: this mesostack has no \`bundle\` command"
        return 0
    fi
    local first=$failed
    rm -f -- "$SMOKE_BUNDLE"   # this script's own output of an earlier run (bundle never overwrites)
    step bundle "$MESOSTACK" bundle -o "$SMOKE_BUNDLE" && log "diagnostic bundle: $SMOKE_BUNDLE"
    failed=$first   # the bundle never hides the step that failed
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" != 0 ] && [ -z "$failed" ]; then  # an exit outside a step's command
        failed=${current:-smoke.sh}; failed_rc=$rc
    fi
    case $failed in
        inputs | "app file") ;;  # nothing reached the engine yet
        *)
            if [ -n "$failed" ]; then bundle || true; fi
            step down "$MESOSTACK" down || true ;;
    esac
    rm -f "$errors"
    local total
    total=$(seconds_since "$started_ms")
    if [ -z "$failed" ]; then
        log "passed in $total s"
        exit 0
    fi
    local line="FAILED at step '$failed'${why:+: $why} (exit $failed_rc, $total s)"
    log "$line"
    [ "${GITHUB_ACTIONS:-}" != true ] || echo "::error title=mesostack smoke test::$line" >&2
    exit $((failed_rc == 0 ? 1 : failed_rc))
}

started_ms=$(now_ms)
errors=$(mktemp)  # the running step's stderr, also shown as it comes
trap finish EXIT
trap 'failed=${failed:-${current:-smoke.sh} (interrupted)}; failed_rc=130; exit 130' INT TERM
bad_input() { why=$1; failed=inputs; failed_rc=2; exit 2; }
[[ $SMOKE_TIMEOUT =~ ^[0-9]+$ ]] || bad_input "SMOKE_TIMEOUT=$SMOKE_TIMEOUT is not whole seconds"
command -v "$MESOSTACK" >/dev/null ||
    bad_input "no \`$MESOSTACK\` command: install mesostack, or set MESOSTACK to its path"
command -v python3 >/dev/null || bad_input "no python3 on PATH (it reads the app's id)"
log "mesostack: $(command -v "$MESOSTACK"); stack file: ${MESOSTACK_FILE:-(none: mesostack picks its default)}"

step "app file" read_app
step doctor "$MESOSTACK" doctor
step up "$MESOSTACK" up
step deploy "$MESOSTACK" deploy --timeout "$SMOKE_TIMEOUT" "$SMOKE_APP"
step "task output" task_output
step status "$MESOSTACK" status
