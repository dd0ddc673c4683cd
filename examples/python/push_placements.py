#!/usr/bin/env python3
"""KP2MI's side: pushes placement records from a CSV file to the exchange (PushPlacements).

    python push_placements.py --file placements.csv [--dev-dir .jembatan] [--receipts F]

The CSV is the one `jembatan placements push` reads (docs/placements-file.md): a header naming
the columns in any order, enum values as codes (FEMALE), dates YYYY-MM-DD, times RFC 3339,
lists `;`-separated. Records go in batches; a batch that meets UNAVAILABLE, DEADLINE_EXCEEDED or
RESOURCE_EXHAUSTED is sent again unchanged (the same placement ids and versions), which the
exchange answers as UNCHANGED if it had stored it after all. The receipt of every record taken
is appended to the receipts file. Exits 1 if any row could not be read, any record was
rejected, or a call failed.
"""

import argparse
import csv
import datetime
import math
import re
import sys
from pathlib import Path

import exchange
from exchange import Failed

# The columns of docs/placements-file.md: (nested message or None, field, form).
COLUMNS = {
    "placement_id": (None, "placement_id", "text"),
    "version": (None, "version", "integer"),
    "updated_at": (None, "updated_at", "time"),
    "nik": (None, "nik", "text"),
    "full_name": (None, "full_name", "text"),
    "sex": (None, "sex", ("enum", "Sex")),
    "birth_date": (None, "birth_date", "date"),
    "origin_regency_code": (None, "origin_regency_code", "text"),
    "education": (None, "education", ("enum", "Education")),
    "job_title": (None, "job_title", "text"),
    "occupation_code": (None, "occupation_code", "text"),
    "certificates": (None, "certificates", "certificates"),
    "languages": (None, "languages", "list"),
    "destination_country": (None, "destination_country", "text"),
    "employer_type": (None, "employer_type", ("enum", "EmployerType")),
    "kbli_code": ("sector", "kbli_code", "text"),
    "kbli_version": ("sector", "kbli_version", "integer"),
    "p3mi_id": (None, "p3mi_id", "text"),
    "placement_scheme": (None, "placement_scheme", ("enum", "PlacementScheme")),
    "contract_start": (None, "contract_start", "date"),
    "contract_end": (None, "contract_end", "date"),
    "departure_date": (None, "departure_date", "date"),
    "status": (None, "status", ("enum", "PlacementStatus")),
    "return_date": (None, "return_date", "date"),
    "return_date_kind": (None, "return_date_kind", ("enum", "ReturnDateKind")),
    "wants_to_export": ("business_interest", "wants_to_export", "flag"),
    "hs_chapters": ("business_interest", "hs_chapters", "list"),
    "phone": ("contact", "phone", "text"),
    "email": ("contact", "email", "text"),
    "consent_purposes": ("consent", "purposes", ("enums", "Purpose")),
    "consent_granted_at": ("consent", "granted_at", "time"),
    "consent_method": ("consent", "method", ("enum", "ConsentMethod")),
    "consent_withdrawn_at": ("consent", "withdrawn_at", "time"),
}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_BATCH = 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True, help="the placements CSV file")
    parser.add_argument("--receipts", type=Path, default=Path("receipts.jsonl"),
                        help="JSON Lines file the receipts are appended to (default: "
                             "%(default)s)")
    parser.add_argument("--batch", type=int, default=MAX_BATCH,
                        help=f"records per call, 1 to {MAX_BATCH} (default: %(default)s)")
    parser.add_argument("--purpose", default="PROGRAM_MONITORING",
                        help="jembatan-purpose stated with every call (default: %(default)s)")
    parser.add_argument("--legal-basis", default="LEGAL_OBLIGATION",
                        help="jembatan-legal-basis stated with every call (default: "
                             "%(default)s)")
    exchange.connection_args(parser, "kp2mi")
    args = parser.parse_args()
    if not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--batch must be from 1 to {MAX_BATCH}")
    exchange.load_stubs(args.stubs)
    from jembatan.v1 import common_pb2, placement_pb2, placement_pb2_grpc

    rows, unreadable = read_csv(args.file, placement_pb2, common_pb2)
    for line, record_id, reason in unreadable:
        print(f"line {line} ({record_id or 'no placement_id'}): not sent: {reason}",
              file=sys.stderr)

    stated = exchange.metadata(args, args.purpose, args.legal_basis)
    outcomes = {name: 0 for name in ("STORED", "UNCHANGED", "STALE", "REJECTED")}
    receipts = exchange.Receipts(args.receipts)
    try:
        with exchange.connect(args) as channel:
            push = placement_pb2_grpc.PlacementServiceStub(channel).PushPlacements
            for start in range(0, len(rows), args.batch):
                batch = rows[start:start + args.batch]
                request = placement_pb2.PushPlacementsRequest(
                    placements=[placement for _, placement in batch])
                first, last = batch[0][0], batch[-1][0]
                response = exchange.call(push, request, args, stated,
                                         f"PushPlacements (lines {first} to {last})")
                take(response, batch, common_pb2, outcomes, receipts)
    finally:
        receipts.close()

    rejected = outcomes["REJECTED"] + len(unreadable)
    print(f"{args.file}: {len(rows) + len(unreadable)} records in "
          f"{math.ceil(len(rows) / args.batch)} batch(es)")
    for name in ("STORED", "UNCHANGED", "STALE"):
        print(f"  {name.lower():<10} {outcomes[name]:>6}")
    print(f"  {'rejected':<10} {rejected:>6}")
    print(f"  receipts   {receipts.written:>6} appended to {args.receipts}")
    return 1 if rejected else 0


def take(response, batch, common_pb2, outcomes, receipts) -> None:
    """Counts a batch's results and keeps the receipt of every record taken."""
    if len(response.results) != len(batch):
        raise Failed(f"the exchange answered {len(response.results)} results for a batch of "
                     f"{len(batch)} records")
    for result in response.results:
        if result.index >= len(batch):
            raise Failed(f"the exchange answered for record {result.index} of a batch of "
                         f"{len(batch)}")
        line, placement = batch[result.index]
        outcome = common_pb2.RecordOutcome.Name(result.outcome).removeprefix("RECORD_OUTCOME_")
        if result.outcome == common_pb2.RECORD_OUTCOME_REJECTED:
            outcomes["REJECTED"] += 1
            reasons = "; ".join(f"{v.field.split('.', 1)[-1]}: {v.description}"
                                for v in result.violations)
            print(f"line {line} ({placement.placement_id}): rejected: {reasons}",
                  file=sys.stderr)
            continue
        outcomes[outcome] += 1
        receipts.write({"line": line, "record_id": result.record_id, "outcome": outcome,
                        "receipt": exchange.receipt_json(result.receipt)})


def read_csv(path: Path, placement_pb2, common_pb2):
    """The file's rows as (line, Placement), and the rows that cannot be read as
    (line, placement id, reason)."""
    rows, unreadable = [], []
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            header = [name.strip() for name in next(reader, [])]
            unknown = [name for name in header if name not in COLUMNS]
            if unknown or not header or len(set(header)) != len(header):
                raise Failed(f"{path}: line 1: the header must name each of these columns at "
                             f"most once: {','.join(COLUMNS)}; unknown: {','.join(unknown)}")
            line = reader.line_num + 1
            for cells in reader:
                cells_by_name = dict(zip(header, (cell.strip() for cell in cells)))
                try:
                    if len(cells) != len(header):
                        raise ValueError(f"the row has {len(cells)} cells, the header "
                                         f"{len(header)}")
                    rows.append((line, placement(cells_by_name, placement_pb2, common_pb2)))
                except ValueError as reason:
                    unreadable.append((line, cells_by_name.get("placement_id"), str(reason)))
                line = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise Failed(f"{path}: {error}") from error
    return rows, unreadable


def placement(cells: dict, placement_pb2, common_pb2):
    """One row as a Placement; an empty cell is not set. ValueError names the column."""
    record = placement_pb2.Placement()
    for name, text in cells.items():
        if not text:
            continue
        within, field, form = COLUMNS[name]
        message = getattr(record, within) if within else record
        try:
            if form == "text":
                setattr(message, field, text)
            elif form == "integer":
                if not (text.isascii() and text.isdigit()):
                    raise ValueError(f"expected a whole number, found {text!r}")
                setattr(message, field, int(text))
            elif form == "flag":
                if text.lower() not in ("true", "false"):
                    raise ValueError(f"expected true or false, found {text!r}")
                setattr(message, field, text.lower() == "true")
            elif form == "list":
                getattr(message, field).extend(items(text))
            elif form == "date":
                date(getattr(message, field), text)
            elif form == "time":
                getattr(message, field).FromJsonString(text)
            elif form == "certificates":
                certificates(message.certificates, text)
            elif form[0] == "enum":
                setattr(message, field, code(getattr(placement_pb2, form[1]), text))
            else:  # ("enums", name): a list of codes
                enum = getattr(common_pb2, form[1])
                getattr(message, field).extend(code(enum, item) for item in items(text))
        except ValueError as reason:
            raise ValueError(f"{name}: {reason}") from None
    return record


def items(text: str) -> list[str]:
    """A `;`-separated list, its items trimmed, empty ones left out."""
    return [item.strip() for item in text.split(";") if item.strip()]


def code(enum, text: str) -> int:
    """An enum value from its code: the contract's name without the enum's prefix, e.g. FEMALE
    for SEX_FEMALE, WORKING for PLACEMENT_STATUS_WORKING."""
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.DESCRIPTOR.name).upper() + "_"
    codes = [name.removeprefix(prefix) for name in enum.keys()
             if not name.endswith("_UNSPECIFIED")]
    if text not in codes:
        raise ValueError(f"unknown code {text!r}, expected one of {', '.join(codes)}")
    return enum.Value(prefix + text)


def date(message, text: str) -> None:
    """Fills a jembatan.v1.Date from YYYY-MM-DD, a date that exists."""
    if not DATE.fullmatch(text):
        raise ValueError(f"expected a date YYYY-MM-DD, found {text!r}")
    day = datetime.date.fromisoformat(text)
    message.year, message.month, message.day = day.year, day.month, day.day


def certificates(field, text: str) -> None:
    """`;`-separated `scheme_code:kkni_level:lsp_id:issued_on[:expires_on[:scheme_name]]`."""
    for i, item in enumerate(part.strip() for part in text.split(";") if part.strip()):
        parts = [part.strip() for part in item.split(":", 5)]
        if len(parts) < 4:
            raise ValueError(f"certificates[{i}]: expected scheme_code:kkni_level:lsp_id:"
                             f"issued_on[:expires_on[:scheme_name]], found {len(parts)} parts")
        parts += [""] * (6 - len(parts))
        scheme_code, level, lsp_id, issued_on, expires_on, scheme_name = parts
        certificate = field.add(scheme_code=scheme_code, lsp_id=lsp_id, scheme_name=scheme_name,
                                kkni_level=int(level) if level else 0)
        if issued_on:
            date(certificate.issued_on, issued_on)
        if expires_on:
            date(certificate.expires_on, expires_on)


if __name__ == "__main__":
    exchange.run(main)
