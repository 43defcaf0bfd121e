#!/bin/sh
# mesoscloud/zookeeper's entrypoint, behaviour for behaviour, in front of Debian 11's real
# ZooKeeper 3.4.13. Read: github.com/mesoscloud/zookeeper, 3.4.6/ubuntu/14.04/entrypoint.sh
# (blob a065358, unchanged from 759ccb7 of 2015-07-21 until the folder went in d6e1afb) and
# that folder's Dockerfile (as of c671da7), the build files of mesoscloud/zookeeper:3.4.6-ubuntu-14.04.
# Written from what that script does, not from its text:
#   - ${MYID:-1} goes to /tmp/zookeeper/myid (the image's VOLUME; nothing creates it);
#   - /opt/zookeeper/conf/zoo.cfg is written afresh at every start: tickTime=2000,
#     initLimit=10, syncLimit=5, dataDir=/tmp/zookeeper, clientPort=2181 and no client
#     address, so the server takes port 2181 on every address; no variable changes the port
#     (ZOO_PORT and the like are not read);
#   - SERVERS, when set and not empty, is split at each comma (entries kept as they are, an
#     empty one too): the N-th entry adds server.N=ENTRY:2888:3888;
#   - no step stops the script when it fails (no `set -e`); then it runs its arguments, the
#     image's CMD `zkServer.sh start-foreground`.
# Test bed only: MESOSTACK_TESTBED_ROOT (default empty) is put before the two paths written
# to, so the unit tests can run this against a temporary folder; what is written is the same.

root="${MESOSTACK_TESTBED_ROOT:-}"

printf '%s\n' "${MYID:-1}" > "$root/tmp/zookeeper/myid"

{
    printf '%s\n' tickTime=2000 initLimit=10 syncLimit=5 dataDir=/tmp/zookeeper clientPort=2181
    if [ -n "${SERVERS:-}" ]; then
        rest="$SERVERS"
        n=1
        while :; do
            entry="${rest%%,*}"
            printf 'server.%d=%s:2888:3888\n' "$n" "$entry"
            [ "$entry" != "$rest" ] || break
            rest="${rest#*,}"
            n=$((n + 1))
        done
    fi
} > "$root/opt/zookeeper/conf/zoo.cfg"

exec "$@"
