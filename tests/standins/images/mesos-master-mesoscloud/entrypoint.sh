#!/bin/sh
# mesoscloud/mesos-master's entrypoint, behaviour for behaviour. Read: github.com/mesoscloud/
# mesos-master, 0.23.0/ubuntu/14.04/entrypoint.sh as of f456216. Written from what it does:
#   - PRINCIPAL defaults to root;
#   - when SECRET is set and not empty, MESOS_AUTHENTICATE=true and MESOS_AUTHENTICATE_SLAVES=true
#     are exported, /tmp/credentials (mode 600) holds "PRINCIPAL SECRET" with no newline, and
#     MESOS_CREDENTIALS names it (the stand-ins do not model authentication);
#   - then it runs its arguments, by default the image's CMD /usr/sbin/mesos-master.
PRINCIPAL="${PRINCIPAL:-root}"
if [ -n "${SECRET:-}" ]; then
    export MESOS_AUTHENTICATE=true
    export MESOS_AUTHENTICATE_SLAVES=true
    touch /tmp/credentials
    chmod 600 /tmp/credentials
    printf '%s %s' "$PRINCIPAL" "$SECRET" > /tmp/credentials
    export MESOS_CREDENTIALS=/tmp/credentials
fi
exec "$@"
