"""CommerceML 2: the XML that 1C's "Обмен с сайтом" exchanges with websites.

1C (or a site acting as its counterpart) sends goods, prices, stock and orders
as ``КоммерческаяИнформация`` files:

* ``import*.xml`` - the classifier (``Классификатор``: groups, properties, and
  in 2.08+ price types, warehouses, units) and the catalog (``Каталог``: goods);
* ``offers*.xml`` - the offers package (``ПакетПредложений``: price types,
  warehouses, and one ``Предложение`` per product or ``product#variant`` with
  prices and stock); 2.08+ splits it into ``offers___*``, ``prices___*`` and
  ``rests___*`` files;
* order documents (``Документ`` with ``ХозОперация`` "Заказ товара") - what a site
  answers to 1C's ``type=sale&mode=query``, and what 1C uploads back.

The modules:

* :mod:`.items` - what the parser yields and the writer takes: canonical records
  from :mod:`hub.model` plus small CommerceML-only types (:class:`~.items.Offer`,
  :class:`~.items.Group`, :class:`~.items.PriceType`, ...);
* :mod:`.parser` - :func:`~.parser.parse`, a streaming reader whose memory stays
  flat whatever the file size, with a :class:`~.items.ParseReport` of every
  record it could not understand;
* :mod:`.writer` - streaming writers of order documents (for 1C) and of
  import/offers files (for sites), valid against the XSD of the chosen version;
* :mod:`.exchange` - the HTTP exchange both roles share: answer lines, upload
  names and archives, and :class:`~.exchange.ExchangeClient` (1C's side);
* :mod:`.protocol` - the site's side of the exchange: checkauth, cookie
  sessions, init, file, import, query and success, as hub answers them;
* :mod:`.imports` - what a file 1C uploaded becomes (the import runner);
* :mod:`.server` - the ``commerceml_1c`` connector: hub is the site 1C's
  «Обмен с сайтом» calls (goods, prices and stock in; orders out, statuses back);
* :mod:`.site` - the ``commerceml_site`` connector: hub is 1C for a site that
  takes the exchange (1C-Bitrix, Tilda): goods, prices and stock out, orders in;
* :mod:`.sandbox` - a 1C-Bitrix-like site and a driver playing 1C, for tests
  and ``hub demo``.

Facts and their sources: ``shared/protocols/1c.md`` §2 (the project's fact sheet).
"""
