"""``manage.py bench``: the card hot path under load against a bare Starlette route.

One module per scenario (``card_json``, ``card_json_304``, ``card_html``); other areas
add theirs to ``SCENARIO_MODULES`` in ``server.bench.registry``.
"""
