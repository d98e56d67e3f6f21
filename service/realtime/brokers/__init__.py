"""Fan-out brokers: how "payment P is at version V" reaches every process (settings:
``REALTIME_BROKER``). PostgreSQL stays the truth and the replay log either way."""
