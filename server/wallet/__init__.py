"""Wallet passes: the member card in Apple Wallet (.pkpass) and Google Wallet.

A pass belongs to one card link: it is got through the link (``/wallet/{token}/…``),
carries the same facts as the card payload and a long-lived check code like the
printed auth card's, and is voided when the link is revoked or replaced.

- ``config``: the ``WALLET_APPLE_*`` / ``WALLET_GOOGLE_*`` environment; without it the
  buttons are hidden and every wallet route answers 404.
- ``models``: passes, Apple device registrations, the delivery outbox.
- ``content``: what a pass shows (from the card payload) and its check code.
- ``refresh``: how a pass learns that what it shows changed, and voiding.
- ``pkpass`` / ``apple_pass``: the signed archive and its ``pass.json``.
- ``google_pass``: the generic class and object and the "Save to Google Wallet" JWT.
- ``delivery``, ``apns``, ``google_api``: pushes and API calls, queued and retried.
- ``apple_routes``, ``member_routes``, ``staff_routes``: the web.
"""
