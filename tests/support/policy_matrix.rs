//! Reads the tables of `docs/policy-matrix.md`, so that the tests check the page itself.

use std::collections::{BTreeMap, BTreeSet};

use jembatan_domain::{LegalBasis, Purpose};

/// A caller column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Column {
    /// Any system of KP2MI.
    Kp2mi,
    /// Any system of Kemendag.
    Kemendag,
    /// Any audit office.
    Auditor,
    /// Any other agency with a valid certificate.
    OtherAgency,
}

impl Column {
    /// The columns, in the page's order.
    pub const ALL: [Column; 4] = [
        Column::Kp2mi,
        Column::Kemendag,
        Column::Auditor,
        Column::OtherAgency,
    ];

    fn header(self) -> &'static str {
        match self {
            Column::Kp2mi => "kp2mi",
            Column::Kemendag => "kemendag",
            Column::Auditor => "auditor",
            Column::OtherAgency => "other agency",
        }
    }
}

/// The page's three tables.
#[derive(Debug)]
pub struct PolicyMatrix {
    /// Method (`<Service>/<Method>`) → column → permitted purposes.
    pub methods: BTreeMap<String, BTreeMap<Column, BTreeSet<Purpose>>>,
    /// Data class (`profile`) → column → permitted purposes.
    pub data_classes: BTreeMap<String, BTreeMap<Column, BTreeSet<Purpose>>>,
    /// Action (method or `read/<class>`) → the only legal bases allowed.
    pub legal_bases: BTreeMap<String, BTreeSet<LegalBasis>>,
}

impl PolicyMatrix {
    /// Reads `docs/policy-matrix.md`.
    pub fn read() -> Self {
        let path = crate::repo_path("docs/policy-matrix.md");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self::parse(&text)
    }

    /// Parses the page's text.
    pub fn parse(text: &str) -> Self {
        let methods = purpose_table(&table_rows(text, "## Methods"), "method");
        let data_classes = purpose_table(&table_rows(text, "## Data classes"), "data class");
        let legal_bases = table_rows(text, "## Legal basis")
            .into_iter()
            .skip(1)
            .map(|row| {
                assert_eq!(row.len(), 2, "legal basis row {row:?}");
                let bases = row[1]
                    .split(',')
                    .map(|code| code.trim().parse().unwrap_or_else(|e| panic!("{e}")))
                    .collect();
                (row[0].clone(), bases)
            })
            .collect();
        Self {
            methods,
            data_classes,
            legal_bases,
        }
    }

    /// Whether the page permits `action` to `column` for `purpose` on `basis`.
    pub fn permits(
        &self,
        table: &BTreeMap<String, BTreeMap<Column, BTreeSet<Purpose>>>,
        row: &str,
        action: &str,
        column: Column,
        purpose: Purpose,
        basis: LegalBasis,
    ) -> bool {
        let purposes = &table[row][&column];
        let basis_ok = self
            .legal_bases
            .get(action)
            .is_none_or(|bases| bases.contains(&basis));
        purposes.contains(&purpose) && basis_ok
    }
}

/// The rows of the first table after `heading`, header row included, separator row left out.
pub fn table_rows(text: &str, heading: &str) -> Vec<Vec<String>> {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?}"));
    text[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter(|line| !line.starts_with("|---"))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

fn purpose_table(
    rows: &[Vec<String>],
    first_header: &str,
) -> BTreeMap<String, BTreeMap<Column, BTreeSet<Purpose>>> {
    let header = &rows[0];
    let expected: Vec<&str> = std::iter::once(first_header)
        .chain(Column::ALL.iter().map(|c| c.header()))
        .collect();
    assert_eq!(header, &expected, "table columns");
    rows[1..]
        .iter()
        .map(|row| {
            assert_eq!(row.len(), expected.len(), "row {row:?}");
            let cells = Column::ALL
                .iter()
                .zip(&row[1..])
                .map(|(column, cell)| (*column, purposes(cell)))
                .collect();
            (row[0].clone(), cells)
        })
        .collect()
}

/// `MoU`, `—`, or a comma-separated list of purpose codes.
fn purposes(cell: &str) -> BTreeSet<Purpose> {
    match cell {
        "—" => BTreeSet::new(),
        "MoU" => Purpose::ALL
            .into_iter()
            .filter(|p| p.is_mou_scope())
            .collect(),
        list => list
            .split(',')
            .map(|code| {
                code.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("cell {cell:?}: {e}"))
            })
            .collect(),
    }
}
