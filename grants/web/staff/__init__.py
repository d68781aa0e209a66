"""Staff workspaces: inbox, application page, opinions, reviews, committee, signature, finance, dashboards."""
