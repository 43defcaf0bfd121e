#!/usr/bin/env bash
# CI smoke test for a mesostack stack, as `mesostack smoke` runs it: check the app file and the
# host, bring the stack up, deploy one app, wait until its task prints the expected text, check
# the stack's status; on failure write a diagnostic bundle; always tear the stack down. This
# script only maps its SMOKE_* variables onto `mesostack smoke` (which does all of that) for
# those who copied it; new jobs can call the command itself. Installs nothing: it runs the
# `mesostack` on PATH (or $MESOSTACK).
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
#   SMOKE_JUNIT     where the JUnit XML report goes            [none]
# Exit: mesostack smoke's: 0 when every step passed; otherwise the failed step's exit code
# (1; 2 for input to fix), 130 for Ctrl-C, 143 for SIGTERM, after one last line naming the
# step. Once it has reached the engine it always ends with `mesostack down`.
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

bad_input() {  # the last line names what to fix, as mesostack's own does
    echo "smoke: FAILED at step 'inputs': $1 (exit 2)" >&2
    exit 2
}
[[ $SMOKE_TIMEOUT =~ ^[0-9]+$ ]] || bad_input "SMOKE_TIMEOUT=$SMOKE_TIMEOUT is not whole seconds"
command -v "$MESOSTACK" >/dev/null ||
    bad_input "no \`$MESOSTACK\` command: install mesostack, or set MESOSTACK to its path"

# APP=TEXT: an empty text waits for any output. mesostack cuts the argument at the first `=`
# whose left side is a file, so a path holding `=` stays whole.
args=("$SMOKE_APP=$SMOKE_EXPECT" --timeout "$SMOKE_TIMEOUT" --bundle "$SMOKE_BUNDLE")
if [ -n "${SMOKE_JUNIT:-}" ]; then
    args+=(--junit-xml "$SMOKE_JUNIT")
fi
echo "smoke: $(command -v "$MESOSTACK") smoke ${args[*]}; stack file: ${MESOSTACK_FILE:-(none: mesostack picks its default)}" >&2
exec "$MESOSTACK" smoke "${args[@]}"
