"""The edge of Gerbang: one folder per agency (client, simulator, WSDL) on a small shared base.

Connectors know nothing of Gerbang's API or database; a connector is written and tested with `connectors.base`,
`connectors.rest` (or `connectors.soap_connector`, the SOAP base, over `connectors.soap`), `connectors.simkit` and
`mappings` alone.
"""
