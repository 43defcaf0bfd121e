#!/bin/sh
# mesoscloud/mesos-slave's entrypoint, behaviour for behaviour. Read: github.com/mesoscloud/
# mesos-slave, 0.23.0/ubuntu/14.04/entrypoint.sh as of 0b6d465. Written from what it does:
#   - PRINCIPAL defaults to root;
#   - when SECRET is set and not empty, /tmp/credential (mode 600) holds "PRINCIPAL SECRET" with
#     no newline, and MESOS_CREDENTIAL names it (the agent then authenticates to its master;
#     the stand-ins do not model authentication);
#   - then it runs its arguments, by default the image's CMD /usr/sbin/mesos-slave.
PRINCIPAL="${PRINCIPAL:-root}"
if [ -n "${SECRET:-}" ]; then
    touch /tmp/credential
    chmod 600 /tmp/credential
    printf '%s %s' "$PRINCIPAL" "$SECRET" > /tmp/credential
    export MESOS_CREDENTIAL=/tmp/credential
fi
exec "$@"
