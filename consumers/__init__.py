"""Kafka input: the partitioned consumer and the order in which its two logs are applied."""

__distribution__ = "exec-watchdog"  # read by exec_watchdog.install_check
