"""Operator console and trainee page: a web server and its static files, shipped in the package."""
