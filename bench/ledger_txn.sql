-- pgbench script of bench/settlement.py: the ledger core of one settlement, as
-- payments.services.ledger writes it (accounts_lock, then transaction_post): lock the patient's
-- personal account, insert the ledger transaction, update the cached balance, insert the two legs
-- (the deferred zero-sum trigger checks them at COMMIT). Not included: the settlement row, its
-- allocation line, the audit entry and the reads around them (patient, institution,
-- authorizations, idempotency key) that the API also does.
-- Variables from the command line: -D lo=… -D hi=… (consecutive personal-account ids),
-- -D payable=… (the region's institution-payable account).
\set id random(:lo, :hi)
\set cents random(100, 999)
BEGIN;
SELECT id, balance FROM payments_ledgeraccount WHERE id = :id FOR NO KEY UPDATE;
INSERT INTO payments_ledgertransaction
    (public_id, kind, description, occurred_at, created_at, idempotency_key)
    VALUES (gen_random_uuid(), 'settlement', 'pgbench', now(), now(),
            'pgbench:' || gen_random_uuid())
    RETURNING id AS tx \gset
UPDATE payments_ledgeraccount SET balance = balance - :cents / 100.0 WHERE id = :id
    RETURNING balance AS after \gset
INSERT INTO payments_ledgerleg (transaction_id, account_id, amount, balance_after, created_at)
    VALUES (:tx, :id, -:cents / 100.0, :after, now()),
           (:tx, :payable, :cents / 100.0, NULL, now());
COMMIT;
