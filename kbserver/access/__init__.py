"""Who may call and how: callers and scopes (auth), API tokens, rate limits, security headers."""
