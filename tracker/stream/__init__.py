"""The live stream: the event log (eventlog), its broadcast after commit (publish), what a resuming client is owed
(replay), and each server process's fan-out to its sockets with catch-up and heartbeat (fanout)."""
