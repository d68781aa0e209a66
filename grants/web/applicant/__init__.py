"""The applicant portal and the account pages."""
