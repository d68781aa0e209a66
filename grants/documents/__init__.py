"""Issued documents: PDF rendering, issuing and storage, public verification."""
