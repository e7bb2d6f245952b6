"""NHS adapters for the partner hub: discharge messages from trusts and IPS referrals."""
