"""Sign-in doors, API tokens, the Content-Security-Policy and the staff second factor.

One place for what protects the accounts (docs/security.md): the client address behind
the proxies (``addresses``), the one lockout policy on every sign-in door
(``lockout``, django-axes), hashed expiring API tokens revoked with the password
(``tokens``, django-rest-knox), password-reset e-mail limits (``reset``) and TOTP for
staff accounts (``otp``, django-otp).
"""
