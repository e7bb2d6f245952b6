"""An example third-party plugin for the partner hub: referrals as a charity CRM's web form (see plugin.py)."""
