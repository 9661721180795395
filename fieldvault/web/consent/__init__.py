"""The informant web page: the bot's consent flow and rights behind /join and /p (issue 14)."""
