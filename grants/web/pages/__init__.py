"""Public information pages linked from every page's footer: the accessibility statement
(RGAA form), the legal notice and the personal-data page. No sign-in needed."""
