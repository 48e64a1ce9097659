"""The decision core the live node and replay both build: books/truth -> strategies -> orders."""
