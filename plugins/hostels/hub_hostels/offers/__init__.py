"""Offers: a Referral without a chosen provider offered to matched services in turn, and the navigators' queue.

- ``terms``: the answers a provider gives, the reason codes, the referrer's steps and ``OfferSettings``
  (``[plugins.hostels.offers]``: offers at once, the offer window, the caps)
- ``book``: the plugin's tables of referrals, offers, allocations and referrer notices (SQLite or PostgreSQL,
  beside the directory); ids, service ids, partners, codes and times only, never a person's data
- ``desk``: the offer chain itself: match, offer, answer, time out, reserve, release, queue for a navigator

The Referral's body stays in the hub's encrypted store; the offer tables refer to it by its record id.
"""
