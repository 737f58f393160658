"""Member codes: agreements under which an organisation sponsors members (brief §4).

An agreement (organisation, branch, code, dates, seats) and the seats its members hold;
not the signed check codes on cards, which are ``server.checks.codes``.
"""
