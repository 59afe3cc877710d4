"""Metadata providers (Google Books, Hardcover) on one shared HTTP client.

Candidate ``source`` names: a provider keeps up to N answers per book, named ``google_books``,
``google_books#2``, ``google_books#3``... (``hardcover``, ``hardcover#2``...), best first at the
time of the fetch. A manual search stores ``manual:google_books``, ``manual:google_books#2``...
Re-fetching replaces all of one provider's candidates of that book.
"""
