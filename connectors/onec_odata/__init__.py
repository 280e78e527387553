"""1C through its standard OData interface (REST, OData v3): the protocol client and a sandbox base.

A published 1C base answers at ``<publication>/odata/standard.odata/`` with Basic
auth. hub reads catalogs, documents and registers (prices through
``InformationRegister_…/SliceLast``, stock through ``AccumulationRegister_…/Balance``),
creates and changes documents with POST and PATCH (``If-Match`` on ``DataVersion``)
and posts them with the ``Post`` action. The modules:

* :mod:`.odata` - the dialect as text: literals, paths, query strings, 1C's value
  quirks and its ``odata.error`` bodies;
* :mod:`.client` - :class:`OneCClient`, the calls over :class:`hub.http.HttpClient`;
* :mod:`.sandbox` - :class:`OneCSandbox`, a café-and-shop published the way УТ 11,
  УНФ or Розница publish it, for tests, the demo and the bench.

Facts and their sources: ``shared/protocols/1c.md`` §1 (the project's fact sheet).
"""

from connectors.onec_odata.client import OneCClient
from connectors.onec_odata.odata import service_root
from connectors.onec_odata.sandbox import PRESETS, OneCSandbox

__all__ = ["PRESETS", "OneCClient", "OneCSandbox", "service_root"]
