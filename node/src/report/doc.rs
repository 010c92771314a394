//! The report as a document: numbered sections of paragraphs, tables and vector figures.
//! One model, two renderers (HTML and PDF), so both formats say the same thing and the
//! report digest covers exactly what both print.

use serde::Serialize;

/// A filled or stroked colour (RGB).
pub(crate) type Rgb = (u8, u8, u8);

/// Black.
pub(crate) const INK: Rgb = (30, 30, 30);
/// Axis and grid grey.
pub(crate) const GREY: Rgb = (150, 150, 150);
/// Satisfactory.
pub(crate) const OK: Rgb = (60, 130, 90);
/// Questionable.
pub(crate) const WARN: Rgb = (215, 150, 30);
/// Unsatisfactory.
pub(crate) const BAD: Rgb = (190, 50, 50);
/// Light band fill for questionable ranges.
pub(crate) const WARN_BAND: Rgb = (250, 238, 205);
/// Light band fill for unsatisfactory ranges.
pub(crate) const BAD_BAND: Rgb = (246, 214, 214);

/// One drawing primitive; coordinates in points, origin top left, y down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) enum Shape {
    /// A straight line.
    Line {
        /// Start and end.
        from: (f32, f32),
        /// End.
        to: (f32, f32),
        /// Colour.
        color: Rgb,
        /// Dashed.
        dashed: bool,
    },
    /// A filled rectangle.
    Rect {
        /// Top left.
        at: (f32, f32),
        /// Width and height.
        size: (f32, f32),
        /// Fill.
        fill: Rgb,
    },
    /// A filled circle.
    Dot {
        /// Centre.
        at: (f32, f32),
        /// Radius.
        r: f32,
        /// Fill.
        fill: Rgb,
    },
    /// A line of text; `at` is the baseline start (or end when `right`).
    Text {
        /// Position.
        at: (f32, f32),
        /// Font size.
        size: f32,
        /// The text.
        text: String,
        /// Right-aligned at `at`.
        right: bool,
    },
}

/// A vector chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Figure {
    /// Caption.
    pub(crate) caption: String,
    /// Width and height in points.
    pub(crate) size: (f32, f32),
    /// What to draw, in order.
    pub(crate) shapes: Vec<Shape>,
}

/// A piece of a section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) enum Block {
    /// A paragraph.
    Para(String),
    /// A sub-heading.
    Heading(String),
    /// Label/value lines.
    Facts(Vec<(String, String)>),
    /// A table; `mark` rows are highlighted (the reading lab's own results).
    Table {
        /// Column heads.
        head: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<String>>,
        /// Rows to highlight, by index.
        mark: Vec<usize>,
    },
    /// A chart.
    Figure(Figure),
}

/// A numbered section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Section {
    /// Anchor id (stable, for links and tests).
    pub(crate) id: &'static str,
    /// Heading.
    pub(crate) title: &'static str,
    /// Content.
    pub(crate) blocks: Vec<Block>,
}

/// The report's content: what the digest covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Content {
    /// Document title.
    pub(crate) title: String,
    /// Report number.
    pub(crate) number: String,
    /// `interim` or `final`.
    pub(crate) status: &'static str,
    /// Issue date (RFC 3339, from the records).
    pub(crate) issued: String,
    /// Evidence root the report was computed from.
    pub(crate) evidence_root: String,
    /// Sections in order.
    pub(crate) sections: Vec<Section>,
}

impl Section {
    pub(crate) fn new(id: &'static str, title: &'static str) -> Section {
        Section {
            id,
            title,
            blocks: Vec::new(),
        }
    }

    pub(crate) fn para(&mut self, s: impl Into<String>) {
        self.blocks.push(Block::Para(s.into()));
    }

    pub(crate) fn heading(&mut self, s: impl Into<String>) {
        self.blocks.push(Block::Heading(s.into()));
    }

    pub(crate) fn table(&mut self, head: &[&str], rows: Vec<Vec<String>>) {
        self.table_marked(head, rows, Vec::new());
    }

    pub(crate) fn table_marked(&mut self, head: &[&str], rows: Vec<Vec<String>>, mark: Vec<usize>) {
        if rows.is_empty() {
            return;
        }
        self.blocks.push(Block::Table {
            head: head.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            mark,
        });
    }
}

/// A number for people: four significant figures, `—` when missing.
pub(crate) fn num(v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v) if !v.is_finite() => "—".to_owned(),
        Some(0.0) => "0".to_owned(),
        Some(v) => {
            let mag = v.abs().log10().floor() as i32;
            if !(-4..6).contains(&mag) {
                return format!("{v:.3e}");
            }
            let decimals = (3 - mag).clamp(0, 8) as usize;
            let s = format!("{v:.decimals$}");
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                s
            }
        }
    }
}

/// A record time as RFC 3339 UTC seconds.
/// A record time as `2026-11-29 23:26:26 UTC` (a space, so a narrow column breaks it
/// between date and time).
pub(crate) fn time(ms: u64) -> String {
    let t = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
    .to_string();
    format!("{} UTC", t.trim_end_matches('Z').replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_four_significant_figures_and_a_dash_when_missing() {
        assert_eq!(num(Some(0.123456)), "0.1235");
        assert_eq!(num(Some(12.5)), "12.5");
        assert_eq!(num(Some(-2.0)), "-2");
        assert_eq!(num(None), "—");
        assert_eq!(num(Some(f64::NAN)), "—");
    }
}
