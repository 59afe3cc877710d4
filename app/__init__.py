"""shelver's application: the Textual app and the command line."""
