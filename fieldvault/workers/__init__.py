"""Background jobs on huey: transcription (the Whisper engines), pseudonymisation, the sweep."""
