"""Delivery reports and campaign status: what `campaigner status`, `campaigner report` and the
receiver's status pages show, all from the definitions in `definitions`."""
