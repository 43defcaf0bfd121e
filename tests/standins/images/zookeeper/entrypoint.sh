#!/bin/sh
# Real ZooKeeper (Debian's `zookeeper` package) behind mesoscloud/zookeeper's env contract:
#   MYID     this server's id in the ensemble (default 1)
#   SERVERS  comma-separated IPs; the N-th becomes server.N=IP:2888:3888 (default 127.0.0.1)
# Unlike mesoscloud's image it binds its client port (2181) and its quorum ports to its own
# entry of SERVERS, so several servers can share one host on 127.0.0.x with host networking.
# `ruok` and `srvr` are allowed; the AdminServer is off (it would take :8080, Marathon's port).
set -eu

MYID="${MYID:-1}"
SERVERS="${SERVERS:-127.0.0.1}"
DATA_DIR=/tmp/zookeeper
CONF_DIR=/tmp/zookeeper-conf

mkdir -p "$DATA_DIR" "$CONF_DIR"
echo "$MYID" > "$DATA_DIR/myid"

own=""
n=0
servers=""
for ip in $(echo "$SERVERS" | tr ',' ' '); do
    n=$((n + 1))
    servers="${servers}server.${n}=${ip}:2888:3888
"
    if [ "$n" = "$MYID" ]; then own="$ip"; fi
done
if [ -z "$own" ]; then
    echo "zookeeper-entrypoint: MYID=$MYID names no entry of SERVERS=$SERVERS" >&2
    exit 2
fi

cat > "$CONF_DIR/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$DATA_DIR
clientPort=2181
clientPortAddress=$own
4lw.commands.whitelist=ruok,srvr,stat,mntr,conf,isro
admin.enableServer=false
${servers}
CFG

echo "zookeeper-entrypoint: server $MYID of $n on $own:2181" >&2
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd HH:mm:ss,SSS" \
    -cp "$CONF_DIR:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$CONF_DIR/zoo.cfg"
