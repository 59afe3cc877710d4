"""Reusable Textual widgets and the small formatting helpers they share."""
