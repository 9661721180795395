"""Reserved for the workers component; see ARCHITECTURE.md."""
