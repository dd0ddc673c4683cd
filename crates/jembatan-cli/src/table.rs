//! Plain-text tables for people: a header row, columns padded to their widest cell.

/// A table to print.
#[derive(Debug)]
pub(crate) struct Table {
    headers: Vec<String>,
    right_aligned: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers, every column left-aligned.
    pub(crate) fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        Self {
            right_aligned: vec![false; headers.len()],
            headers,
            rows: Vec::new(),
        }
    }

    /// Aligns column `index` (numbers) to the right.
    pub(crate) fn align_right(mut self, index: usize) -> Self {
        if let Some(right) = self.right_aligned.get_mut(index) {
            *right = true;
        }
        self
    }

    /// Adds a row; missing cells are empty.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as lines of text, without trailing spaces.
    pub(crate) fn lines(&self) -> Vec<String> {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let render = |cells: &[String]| {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right_aligned[i] {
                    line.push_str(&format!("{cell:>width$}"));
                } else {
                    line.push_str(&format!("{cell:<width$}"));
                }
            }
            line.trim_end().to_owned()
        };
        let mut lines = vec![render(&self.headers)];
        lines.extend(self.rows.iter().map(|row| render(row)));
        lines
    }

    /// Prints the table to stdout.
    pub(crate) fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }

    /// Prints a listing of `count` `noun`s (this table of them, or `no <noun>s`, then the
    /// count), and how to go on when `next_token` is not empty.
    pub(crate) fn print_listing(&self, count: usize, noun: &str, next_token: &str) {
        if count == 0 {
            println!("no {noun}s");
        } else {
            self.print();
            println!(
                "{} {noun}{}",
                jembatan_client::convert::thousands(count as u64),
                if count == 1 { "" } else { "s" }
            );
        }
        if !next_token.is_empty() {
            println!("more: continue with --page-token {next_token}");
        }
    }
}

/// `text` cut to `max` characters, with `…` when it was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_their_widest_cell() {
        let mut table = Table::new(["PROVINCE", "WORKERS"]).align_right(1);
        table.row(vec!["35".to_owned(), "1,234".to_owned()]);
        table.row(vec!["52".to_owned(), "suppressed".to_owned()]);
        assert_eq!(
            table.lines(),
            vec![
                "PROVINCE     WORKERS",
                "35             1,234",
                "52        suppressed",
            ]
        );
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("Caregiver", 12), "Caregiver");
        assert_eq!(truncate("Penata Laksana Rumah Tangga", 12), "Penata Laks…");
    }
}
