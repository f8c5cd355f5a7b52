"""The dialer: `campaigner run`'s engine, which dials a campaign's due contacts."""
