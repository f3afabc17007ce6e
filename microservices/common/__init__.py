"""Shared building blocks imported by every service; never imports a service."""
