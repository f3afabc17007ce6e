"""Alert delivery: `exitbrain.alerts` and `alerts` entries to webhooks (docs/ALERT_DELIVERY.md)."""
