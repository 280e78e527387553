"""hub: a headless sync engine that joins a business's sales channels to 1C.

The public surface is small; most modules are private details. What connector
and job authors import:

* :mod:`hub.model` - the canonical model every connector speaks;
* :mod:`hub.errors` - the exception tree, grouped by what the caller should do;
* :mod:`hub.connector` - the connector interface;
* :mod:`hub.http` - the HTTP client every connector uses;
* :mod:`hub.values` - time zones, money and JSON, in one place;
* :mod:`hub.testing` - the acceptance suite every connector's tests run.
"""

__version__ = "0.1.0"
