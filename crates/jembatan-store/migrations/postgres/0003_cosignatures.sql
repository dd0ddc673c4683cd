-- Cosignatures as AddCosignature stores them: which registered witness key signed, and which
-- caller submitted it. Cosignatures are insert-only like the rest of the log: a witness that
-- signs again for the same checkpoint changes nothing.
ALTER TABLE audit_cosignatures
    ADD COLUMN verifier_key TEXT NOT NULL DEFAULT '',
    ADD COLUMN principal TEXT NOT NULL DEFAULT '';

CREATE TRIGGER audit_cosignatures_insert_only BEFORE UPDATE OR DELETE ON audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit_insert_only();
