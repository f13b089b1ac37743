"""The regulator's side: reading the figures the hub publishes (topics, commands, report)."""
