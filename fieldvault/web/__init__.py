"""The web app (aiohttp): the researchers' upload API, and the home of the dashboard to come."""
