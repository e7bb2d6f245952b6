"""Hostel and charity adapters for the partner hub: support and accommodation referrals."""
