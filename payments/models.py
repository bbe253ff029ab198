"""Personal-account ledger, settlements, premiums on behalf, institutions: issue 4."""
