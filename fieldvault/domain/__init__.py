"""Domain rules (consent, participants, retention), called by every front end and worker."""
