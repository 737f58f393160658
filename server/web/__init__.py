"""The web layer. Importing it makes ``{name:int}`` in any route path match only ids a
row can have (at most 2**31 - 1, PostgreSQL's INTEGER), so a huge number in a URL is a
404 instead of an overflow in the database driver."""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, register_url_convertor


class RowIdConvertor(IntegerConvertor):
    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        number = int(value)
        if number > 2**31 - 1:
            # Matching has already happened; answer as if the row did not exist.
            return 0
        return number


register_url_convertor("int", RowIdConvertor())
