"""Domain rules (consent, participants, retention): one place, called by bot, web, CLI and workers."""
