"""shelver's top-level screens (one per app mode) and its dialogs."""
