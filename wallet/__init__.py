"""医保钱包 (R23): the medical-insurance wallet, above payments. Nothing below imports it."""
