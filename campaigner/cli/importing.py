"""`campaigner import`: load contacts from a CSV file into a campaign."""
