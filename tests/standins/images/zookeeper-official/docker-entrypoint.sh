#!/bin/bash
# The official zookeeper image's entrypoint, behaviour for behaviour, in front of Debian 13's
# real ZooKeeper 3.9.3. Read: github.com/31z4/zookeeper-docker (the source docker-library's
# official `zookeeper` image is built from), 3.9.3/docker-entrypoint.sh and 3.9.3/Dockerfile
# at 268d33c ("Zookeeper 3.9.3", 2024-10-28; the script is the 3.9.2 one, unchanged).
# Written from what that script does, not from its text:
#   - started as root with `zkServer.sh` as its command, it gives $ZOO_DATA_DIR,
#     $ZOO_DATA_LOG_DIR and $ZOO_LOG_DIR (recursively) to the zookeeper user and runs itself
#     again as that user through gosu (so `docker run --user` works as well);
#   - only when $ZOO_CONF_DIR/zoo.cfg does not exist yet, it writes one: dataDir, dataLogDir,
#     tickTime, initLimit, syncLimit, autopurge.snapRetainCount, autopurge.purgeInterval,
#     maxClientCnxns, standaloneEnabled and admin.enableServer from the ZOO_* variables (their
#     defaults are the image's ENV), then each whitespace-separated word of ZOO_SERVERS as a
#     line of its own (3.5+ syntax, server.N=HOST:2888:3888;[CLIENT_ADDRESS:]CLIENT_PORT; when
#     ZOO_SERVERS is empty: server.1=localhost:2888:3888;2181, a standalone server on 2181),
#     4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST when that is set (else ZooKeeper's
#     default, `srvr` alone), then each word of ZOO_CFG_EXTRA as a line. No clientPort line:
#     the port comes from the server's own server.N entry; ZOO_PORT is not read;
#   - only when $ZOO_DATA_DIR/myid does not exist yet, it writes ${ZOO_MY_ID:-1} there;
#   - a failing step stops it (`set -e`); then it runs its arguments, by default the image's
#     CMD `zkServer.sh start-foreground`.
set -e

if [[ "${1:-}" == zkServer.sh && "$(id -u)" == 0 ]]; then
    chown -R zookeeper "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
    exec gosu zookeeper "$0" "$@"
fi

zoo_cfg() {
    local key var line
    for key in dataDir=ZOO_DATA_DIR dataLogDir=ZOO_DATA_LOG_DIR tickTime=ZOO_TICK_TIME \
        initLimit=ZOO_INIT_LIMIT syncLimit=ZOO_SYNC_LIMIT \
        autopurge.snapRetainCount=ZOO_AUTOPURGE_SNAPRETAINCOUNT \
        autopurge.purgeInterval=ZOO_AUTOPURGE_PURGEINTERVAL maxClientCnxns=ZOO_MAX_CLIENT_CNXNS \
        standaloneEnabled=ZOO_STANDALONE_ENABLED admin.enableServer=ZOO_ADMINSERVER_ENABLED; do
        var="${key#*=}"
        printf '%s=%s\n' "${key%%=*}" "${!var}"
    done
    # word splitting, as the real script's unquoted loops have it
    for line in ${ZOO_SERVERS:-server.1=localhost:2888:3888;2181}; do
        printf '%s\n' "$line"
    done
    if [[ -n "${ZOO_4LW_COMMANDS_WHITELIST:-}" ]]; then
        printf '4lw.commands.whitelist=%s\n' "$ZOO_4LW_COMMANDS_WHITELIST"
    fi
    for line in ${ZOO_CFG_EXTRA:-}; do
        printf '%s\n' "$line"
    done
}

if [[ ! -f "$ZOO_CONF_DIR/zoo.cfg" ]]; then
    zoo_cfg >> "$ZOO_CONF_DIR/zoo.cfg"
fi
if [[ ! -f "$ZOO_DATA_DIR/myid" ]]; then
    printf '%s\n' "${ZOO_MY_ID:-1}" > "$ZOO_DATA_DIR/myid"
fi

exec "$@"
