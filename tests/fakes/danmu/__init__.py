"""Local chat servers and frame builders for the danmu tests."""
