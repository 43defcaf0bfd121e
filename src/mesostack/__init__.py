"""mesostack: ZooKeeper + Apache Mesos + Marathon as Docker containers, from one stack.yaml."""

__version__ = "0.1.0"
