-- Cosignatures as AddCosignature stores them: which registered witness key signed, and which
-- caller submitted it. Cosignatures are insert-only like the rest of the log: a witness that
-- signs again for the same checkpoint changes nothing.
ALTER TABLE audit_cosignatures ADD COLUMN verifier_key TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_cosignatures ADD COLUMN principal TEXT NOT NULL DEFAULT '';

CREATE TRIGGER audit_cosignatures_no_update BEFORE UPDATE ON audit_cosignatures
BEGIN SELECT RAISE(ABORT, 'audit_cosignatures is insert-only'); END;
CREATE TRIGGER audit_cosignatures_no_delete BEFORE DELETE ON audit_cosignatures
BEGIN SELECT RAISE(ABORT, 'audit_cosignatures is insert-only'); END;
