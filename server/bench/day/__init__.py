"""``manage.py bench --day``: a real day on one database, against ``manage.py serve``
as a user runs it (``run``), driven by a load process of its own (``load``) through the
request classes of ``traffic``; the figures and targets are in ``report``."""
