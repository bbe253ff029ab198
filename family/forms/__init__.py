"""Forms of the family pages, split by the page groups of family/views/."""
