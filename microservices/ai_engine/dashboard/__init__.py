"""The web dashboard served by the engine API at `/` (issue 18): live charts of the cross-venue
state over Server-Sent Events, behind the optional API_TOKEN."""
