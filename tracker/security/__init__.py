"""Who may do what, and for how long: socket handshake authentication (auth), the sign-in rate limit
(login_rate), closing sockets whose credentials were withdrawn (revocation), and Content Security Policy
helpers (csp). Import from the module that holds a name; this package re-exports nothing."""
