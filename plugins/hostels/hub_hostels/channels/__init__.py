"""Channels small charities have: an HTML form POST (``form-post`` transport, ``referral-form`` adapter).

Secure e-mail needs nothing here: a provider names the ``smtp`` transport (the council plugin's) in its
``receive`` table, and gets the Referral sealed as an e-mail attachment (docs/partners/hostels.md).
"""
