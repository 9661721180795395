"""Reserved for the web component; see ARCHITECTURE.md."""
