#!/usr/bin/env python3
"""Kemendag's side: counts available workers (QueryAvailability) and lists consented candidates
(ListCandidates), a page at a time, as small tables.

    python query_workforce.py [--group-by sex] [--occupation 5322] [--page-size 20] [--all]

Counts are perturbed (the same workers always get the same count) and none under the exchange's
threshold is published; candidates are only workers whose consent covers the stated purpose,
under pseudonyms stable for Kemendag. The receipt of the count and of every candidate listed is
appended to the receipts file. Exits 1 if a call failed.
"""

import argparse
import datetime
from pathlib import Path

import exchange
from exchange import Failed

# Filter flags: (flag, AvailabilityFilter field, help). Counts take one value of each, and a
# return period of one calendar month, quarter or year; candidates take several.
FILTERS = [
    ("--occupation", "occupation_codes", "ISCO-08 / KBJI occupation code, e.g. 5322"),
    ("--certificate", "certificate_schemes", "BNSP certification scheme held"),
    ("--province", "origin_province_codes", "province of origin, e.g. 35"),
    ("--regency", "origin_regency_codes", "regency or city of origin, e.g. 35.07"),
    ("--country", "destination_countries", "country worked in, ISO 3166-1 alpha-2, e.g. HK"),
    ("--language", "languages", "language spoken, ISO 639-1, e.g. en"),
    ("--status", "statuses", "placement status, e.g. RETURNED"),
    ("--hs-chapter", "hs_chapters", "HS 2022 chapter of interest, e.g. 09"),
]
GROUPS = ["PROVINCE", "REGENCY", "OCCUPATION", "DESTINATION_COUNTRY", "RETURN_MONTH", "SEX"]
PSEUDONYM_SHOWN = 12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    filters = parser.add_argument_group("which workers (AND; a flag repeated: any of its "
                                        "values)")
    for flag, field, text in FILTERS:
        filters.add_argument(flag, dest=field, action="append", default=[], help=text)
    filters.add_argument("--return-from", type=day, help="earliest return date, YYYY-MM-DD")
    filters.add_argument("--return-to", type=day, help="latest return date, YYYY-MM-DD")
    filters.add_argument("--wants-to-export", action="store_true",
                         help="only workers who want to export")
    counts = parser.add_argument_group("counts (QueryAvailability)")
    counts.add_argument("--group-by", type=groups, default=[],
                        help=f"up to 3 of {','.join(GROUPS)}, comma-separated")
    counts.add_argument("--min-change", type=int, default=0,
                        help="count only from an index that reflects this change (a push "
                             "receipt's leaf index), to read one's own writes")
    counts.add_argument("--counts-purpose", default="STATISTICS",
                        help="jembatan-purpose (default: %(default)s)")
    counts.add_argument("--counts-legal-basis", default="PUBLIC_TASK",
                        help="jembatan-legal-basis (default: %(default)s)")
    listing = parser.add_argument_group("candidates (ListCandidates)")
    listing.add_argument("--page-size", type=int, default=100,
                         help="candidates per page, 1 to 1000 (default: %(default)s)")
    listing.add_argument("--page-token", default="", help="go on from this page token")
    listing.add_argument("--all", action="store_true", help="follow the pages to the last")
    listing.add_argument("--candidates-purpose", default="BUSINESS_MATCHING",
                         help="jembatan-purpose (default: %(default)s); names and contact "
                              "details only for BUSINESS_MATCHING")
    listing.add_argument("--candidates-legal-basis", default="CONSENT",
                         help="jembatan-legal-basis (default: %(default)s, the only one "
                              "policy allows for individual workers)")
    parser.add_argument("--receipts", type=Path, default=Path("query-receipts.jsonl"),
                        help="JSON Lines file the receipts are appended to (default: "
                             "%(default)s)")
    exchange.connection_args(parser, "kemendag")
    args = parser.parse_args()
    exchange.load_stubs(args.stubs)
    from jembatan.v1 import placement_pb2, workforce_pb2, workforce_pb2_grpc

    availability_filter = request_filter(args, workforce_pb2, placement_pb2)
    receipts = exchange.Receipts(args.receipts)
    try:
        with exchange.connect(args) as channel:
            service = workforce_pb2_grpc.WorkforceServiceStub(channel)
            show_counts(service, availability_filter, args, workforce_pb2, receipts)
            print()
            show_candidates(service, availability_filter, args, (workforce_pb2, placement_pb2),
                            receipts)
    finally:
        receipts.close()
    print(f"receipts: {receipts.written} appended to {args.receipts}")
    return 0


def day(text: str) -> datetime.date:
    """A date given as YYYY-MM-DD."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, found {text!r}") from None


def groups(text: str) -> list[str]:
    """Comma-separated GroupBy codes."""
    chosen = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [group for group in chosen if group not in GROUPS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {','.join(unknown)}; expected "
                                         f"{','.join(GROUPS)}")
    return chosen


def request_filter(args, workforce_pb2, placement_pb2):
    """The AvailabilityFilter the flags describe."""
    found = workforce_pb2.AvailabilityFilter(wants_to_export=args.wants_to_export)
    for _, field, _ in FILTERS:
        values = getattr(args, field)
        if field == "statuses":
            values = [status_code(placement_pb2, value) for value in values]
        getattr(found, field).extend(values)
    for field in ("return_from", "return_to"):
        value = getattr(args, field)
        if value:
            date = getattr(found, field)
            date.year, date.month, date.day = value.year, value.month, value.day
    return found


def status_code(placement_pb2, text: str) -> int:
    """A PlacementStatus from its code, e.g. RETURNED."""
    statuses = placement_pb2.PlacementStatus
    try:
        return statuses.Value("PLACEMENT_STATUS_" + text.upper())
    except ValueError:
        raise Failed(f"--status {text!r}: expected one of " + ", ".join(
            name.removeprefix("PLACEMENT_STATUS_") for name in statuses.keys()[1:])) from None


def show_counts(service, availability_filter, args, workforce_pb2, receipts) -> None:
    """QueryAvailability, printed as a table of cells, the total and how they are protected."""
    request = workforce_pb2.QueryAvailabilityRequest(
        filter=availability_filter, min_change=args.min_change,
        group_by=[workforce_pb2.GroupBy.Value("GROUP_BY_" + group) for group in args.group_by])
    stated = exchange.metadata(args, args.counts_purpose, args.counts_legal_basis)
    answer = exchange.call(service.QueryAvailability, request, args, stated,
                           "QueryAvailability")
    print(f"QueryAvailability ({args.counts_purpose}, {args.counts_legal_basis})")
    threshold = answer.suppression_threshold
    if not answer.cells and not answer.HasField("total"):
        print(f"no counts: the filter matches fewer than {max(answer.minimum_workers, threshold)}"
              " workers (perturbed), the minimum for any count to be shown")
    elif args.group_by:
        table([*args.group_by, "WORKERS"],
              [[*cell.keys, str(cell.count)] for cell in answer.cells], count_last=True)
    total = str(answer.total) if answer.HasField("total") else f"under {threshold}"
    perturbation = answer.perturbation
    print(f"workers: {total}; cells under {threshold} are not shown; counts perturbed by up to "
          f"±{perturbation.max_noise} ({perturbation.table}); reflects change {answer.change}")
    print(f"receipt: audit leaf {answer.receipt.leaf_index} "
          f"(leaf hash {answer.receipt.leaf_hash.hex()})")
    receipts.write({"method": "QueryAvailability",
                    "receipt": exchange.receipt_json(answer.receipt)})


def show_candidates(service, availability_filter, args, modules, receipts) -> None:
    """ListCandidates, page by page (all of them with --all), printed as one table."""
    workforce_pb2, placement = modules
    stated = exchange.metadata(args, args.candidates_purpose, args.candidates_legal_basis)
    request = workforce_pb2.ListCandidatesRequest(filter=availability_filter,
                                                  page_size=args.page_size,
                                                  page_token=args.page_token)
    candidates, pages = [], 0
    while True:
        pages += 1
        page = exchange.call(service.ListCandidates, request, args, stated,
                             f"ListCandidates (page {pages})")
        if len(page.receipts) != len(page.candidates):
            raise Failed(f"the exchange answered {len(page.receipts)} receipts for "
                         f"{len(page.candidates)} candidates")
        for candidate, receipt in zip(page.candidates, page.receipts):
            receipts.write({"method": "ListCandidates", "pseudonym": candidate.pseudonym,
                            "receipt": exchange.receipt_json(receipt)})
        candidates.extend(page.candidates)
        if not args.all or not page.next_page_token:
            break
        request.page_token = page.next_page_token
    print(f"ListCandidates ({args.candidates_purpose}, {args.candidates_legal_basis})")
    headers = ["PSEUDONYM", "SEX", "BORN", "REGENCY", "OCCUPATION", "COUNTRIES", "STATUS",
               "RETURN"]
    named = any(candidate.full_name for candidate in candidates)
    rows = []
    for c in candidates:
        returns = ""
        if c.HasField("return_date"):
            kind = placement.ReturnDateKind.Name(c.return_date_kind)
            returns = (f"{c.return_date.year:04}-{c.return_date.month:02}-"
                       f"{c.return_date.day:02} {kind.removeprefix('RETURN_DATE_KIND_').lower()}")
        row = [c.pseudonym[:PSEUDONYM_SHOWN], placement.Sex.Name(c.sex).removeprefix("SEX_"),
               str(c.birth_year), c.origin_regency_code, c.occupation_code,
               ",".join(c.destination_countries),
               placement.PlacementStatus.Name(c.status).removeprefix("PLACEMENT_STATUS_"),
               returns]
        rows.append(row + [c.full_name] if named else row)
    table(headers + ["NAME"] if named else headers, rows)
    more = f"; next page: --page-token {page.next_page_token}" if page.next_page_token else ""
    print(f"{len(candidates)} candidates in {pages} page(s){more}")


def table(headers: list[str], rows: list[list[str]], count_last: bool = False) -> None:
    """Prints rows under headers, each column as wide as its widest cell; with `count_last`,
    the last column (counts) aligned right."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        if count_last:
            cells[-1] = row[-1].rjust(widths[-1])
        print("  ".join(cells).rstrip())


if __name__ == "__main__":
    exchange.run(main)
