"""Writes that are not state transitions: drafts and attachments, reviewer assignment."""
