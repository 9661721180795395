"""Reserved for the bot component; see ARCHITECTURE.md."""
