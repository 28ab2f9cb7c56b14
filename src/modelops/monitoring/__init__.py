"""Monitoring: drift and realised performance (pure functions), and the policy that acts on them."""
