"""Web pages: the applicant portal and the staff workspaces."""
