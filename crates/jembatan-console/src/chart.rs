//! Stacked bar charts drawn as SVG on the server: one bar per day, one colour per series, a
//! tooltip (`<title>`) on every segment, and the same numbers in a table beside it for readers
//! who do not see the chart.

use crate::html::escape;
use crate::i18n::Lang;

/// Colours told apart also by people with the common colour-vision deficiencies (Okabe–Ito).
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];

const WIDTH: u64 = 960;
const HEIGHT: u64 = 280;
const LEFT: u64 = 56;
const RIGHT: u64 = 12;
const TOP: u64 = 12;
const BOTTOM: u64 = 40;

/// One coloured part of every bar: its name and its value on each day.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) values: Vec<u64>,
}

/// A stacked bar chart of `series` over `days`, with its legend.
pub(crate) fn stacked_bars(
    id: &str,
    title: &str,
    days: &[String],
    series: &[Series],
    lang: Lang,
) -> String {
    let totals: Vec<u64> = (0..days.len())
        .map(|day| {
            series
                .iter()
                .map(|s| s.values.get(day).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width as f64 / days.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |value: u64| plot_height as f64 * value as f64 / max as f64;
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"{id}-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{title}</title>",
        title = escape(title)
    );
    // Axis and three grid lines: 0, half, max.
    for fraction in [0u64, 1, 2] {
        let value = max * fraction / 2;
        let line_y = TOP as f64 + plot_height as f64 - y(value);
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{line_y:.1}\" y2=\"{line_y:.1}\" stroke=\"#d6dae0\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6,
            line_y + 4.0,
            lang.number(value)
        ));
    }
    let label_every = (days.len() / 10).max(1);
    for (i, day) in days.iter().enumerate() {
        let x = LEFT as f64 + slot * i as f64 + (slot - bar) / 2.0;
        let mut base = 0u64;
        for (s, serie) in series.iter().enumerate() {
            let value = serie.values.get(i).copied().unwrap_or(0);
            if value == 0 {
                continue;
            }
            let top = TOP as f64 + plot_height as f64 - y(base + value);
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\">\
                 <title>{} · {}: {}</title></rect>",
                y(value).max(0.5),
                PALETTE[s % PALETTE.len()],
                escape(day),
                escape(&serie.name),
                lang.number(value)
            ));
            base += value;
        }
        if i.is_multiple_of(label_every) {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                HEIGHT - BOTTOM + 16,
                escape(day.get(5..).unwrap_or(day))
            ));
        }
    }
    svg.push_str("</svg>");
    svg.push_str("<ul class=\"legend\">");
    for (s, serie) in series.iter().enumerate() {
        svg.push_str(&format!(
            "<li><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" fill=\"{}\"/></svg> {}</li>",
            PALETTE[s % PALETTE.len()],
            escape(&serie.name)
        ));
    }
    svg.push_str("</ul>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_segment_per_nonzero_value_with_its_tooltip() {
        let days = vec!["2026-12-01".to_owned(), "2026-12-02".to_owned()];
        let series = vec![
            Series {
                name: "kp2mi".to_owned(),
                values: vec![3, 0],
            },
            Series {
                name: "kemendag<x>".to_owned(),
                values: vec![1, 4],
            },
        ];
        let svg = stacked_bars("c", "Chart", &days, &series, Lang::En);
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert!(svg.contains("2026-12-02 · kemendag&lt;x&gt;: 4"));
        assert!(!svg.contains("<x>"));
    }
}
