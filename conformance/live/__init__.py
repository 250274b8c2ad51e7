"""The live conformance suite: the catalogue's ``live`` examples run against a base URL."""
