"""The catalogue of tests/properties/catalogue.py names every URL of the portal: a new page is
attacked by the property tests from the day it exists, or this test says which one is missing."""

from django.urls import URLPattern, URLResolver, get_resolver

from .catalogue import ELSEWHERE_PREFIXES, PAGES


def _routes(patterns, prefix="", namespace=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield route, namespace + pattern.name


def test_every_url_is_in_the_catalogue():
    names = {
        name
        for route, name in _routes(get_resolver().url_patterns)
        if not route.startswith(ELSEWHERE_PREFIXES)
    }
    catalogued = {page.name for page in PAGES}
    assert names - catalogued == set(), "add these URLs to tests/properties/catalogue.py"
    assert catalogued - names == set(), "these catalogue entries name no URL"
