"""The regulator's view of the figures: history, targets, public figures, and reading what the hub publishes.

``public`` and ``targets`` are pure functions over figures rows (the objects of ``jeugdhub replay``'s
``regions``), which the aggregate service and the offline commands (``replay``, ``history``,
``report``) share, so a public figure or a target cannot differ between them (docs/regulator.md);
the rest reads the figures topics and renders them (topics, commands, report).
"""
