"""Kafka output: recovery, DLQ, control and audit records, and the topics the service owns."""

__distribution__ = "exec-watchdog"  # read by exec_watchdog.install_check
