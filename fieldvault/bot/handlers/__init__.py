"""The informant conversation as rooms: enrolment, consent, rights, withdrawal (one module each)."""
