"""1C through a SOAP web service its 1C developer wrote and published (``<publication>/ws/<name>.1cws``).

For the bases whose integration is a web service rather than the standard OData interface. The modules:

* :mod:`.wsdl` - where the WSDL is, the copy hub keeps of it, and what it promises (:class:`~.wsdl.Contract`);
* :mod:`.client` - :class:`~.client.SoapClient`, zeep over :class:`hub.http.HttpClient`, faults told apart;
* :mod:`.connector` - the streams, each an operation named by the preset's mappings;
* :mod:`.sandbox` - :class:`~.sandbox.OneCSoapSandbox`, a café's 1C with a trade web service.

Facts and their sources: ``shared/protocols/1c.md`` §3 (the project's fact sheet).
"""

from connectors.onec_soap.sandbox import OneCSoapSandbox

__all__ = ["OneCSoapSandbox"]
