//! The report as PDF, written in-process with krilla: A4 pages, DejaVu Sans embedded and
//! subsetted (selectable Unicode text), charts as vector paths, a footer with the report
//! number and "page i of n". Deterministic: no clock; the document id and creation date
//! come from the report digest and the issue date, so equal content gives equal bytes.

use interlab_protocol::Digest;
use krilla::{
    Document, SerializeSettings,
    color::rgb,
    geom::{PathBuilder, Point, Rect},
    metadata::{DateTime, Metadata},
    page::PageSettings,
    paint::{Fill, Stroke, StrokeDash},
    text::{Font, TextDirection},
};

use super::{
    ReportError,
    doc::{Block, Content, Figure, GREY, INK, Rgb, Shape},
    typeset::{FONT, width, wrap},
};

const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 50.0;
const BOTTOM: f32 = PAGE.1 - 60.0;
const TEXT_W: f32 = PAGE.0 - 2.0 * MARGIN;
const BODY: f32 = 9.0;
const CELL: f32 = 7.0;
const MARK_FILL: Rgb = (228, 240, 255);
const HEAD_FILL: Rgb = (235, 235, 235);

/// Laid-out pages: each a list of shapes in page coordinates.
struct Layout {
    pages: Vec<Vec<Shape>>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn page(&mut self) -> &mut Vec<Shape> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page when `h` more points do not fit.
    fn need(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text(&mut self, x: f32, size: f32, s: &str) {
        let at = (x, self.y + size);
        self.page().push(Shape::Text {
            at,
            size,
            text: s.to_owned(),
            right: false,
        });
    }

    fn para(&mut self, s: &str, size: f32, indent: f32) {
        for line in wrap(s, size, TEXT_W - indent) {
            self.need(size * 1.35);
            self.text(MARGIN + indent, size, &line);
            self.y += size * 1.35;
        }
        self.y += size * 0.5;
    }

    fn facts(&mut self, facts: &[(String, String)]) {
        let key_w = 150.0;
        for (k, v) in facts {
            let keys = wrap(k, BODY - 0.5, key_w - 8.0);
            let vals = wrap(v, BODY - 0.5, TEXT_W - key_w);
            let n = keys.len().max(vals.len());
            self.need(n as f32 * BODY * 1.3);
            for i in 0..n {
                if let Some(kl) = keys.get(i) {
                    self.text(MARGIN, BODY - 0.5, kl);
                }
                if let Some(vl) = vals.get(i) {
                    self.text(MARGIN + key_w, BODY - 0.5, vl);
                }
                self.y += BODY * 1.3;
            }
        }
        self.y += BODY * 0.5;
    }

    fn table(&mut self, head: &[String], rows: &[Vec<String>], mark: &[usize]) {
        let cols = head.len().max(1);
        let pad = 3.0;
        let natural: Vec<f32> = (0..cols)
            .map(|j| {
                std::iter::once(head.get(j))
                    .chain(rows.iter().map(|r| r.get(j)))
                    .flatten()
                    .map(|s| width(s, CELL) + 2.0 * pad + 8.0)
                    .fold(20.0_f32, f32::max)
                    .min(260.0)
            })
            .collect();
        let total: f32 = natural.iter().sum();
        // The longest word of a column (capped: a 64-hex digest may break anywhere).
        let words: Vec<f32> = (0..cols)
            .map(|j| {
                std::iter::once(head.get(j))
                    .chain(rows.iter().map(|r| r.get(j)))
                    .flatten()
                    .flat_map(|s| s.split(' '))
                    .map(|w| width(w, CELL) + 2.0 * pad + 2.0)
                    .fold(20.0_f32, f32::max)
                    .min(160.0)
            })
            .collect();
        let widths = if total > TEXT_W {
            column_widths(&natural, &words, TEXT_W)
        } else {
            natural
        };
        let line_h = CELL * 1.3;
        let draw_row = |l: &mut Layout, cells: &[String], fill: Option<Rgb>| {
            let wrapped: Vec<Vec<String>> = (0..cols)
                .map(|j| {
                    wrap(
                        cells.get(j).map_or("", String::as_str),
                        CELL,
                        (widths[j] - 2.0 * pad).max(8.0),
                    )
                })
                .collect();
            let n = wrapped.iter().map(Vec::len).max().unwrap_or(1);
            let h = n as f32 * line_h + 2.0 * pad;
            l.need(h);
            let top = l.y;
            if let Some(fill) = fill {
                l.page().push(Shape::Rect {
                    at: (MARGIN, top),
                    size: (widths.iter().sum(), h),
                    fill,
                });
            }
            let mut x = MARGIN;
            for (j, lines) in wrapped.iter().enumerate() {
                for (i, line) in lines.iter().enumerate() {
                    l.page().push(Shape::Text {
                        at: (x + pad, top + pad + CELL + i as f32 * line_h),
                        size: CELL,
                        text: line.clone(),
                        right: false,
                    });
                }
                x += widths[j];
            }
            l.page().push(Shape::Line {
                from: (MARGIN, top + h),
                to: (MARGIN + widths.iter().sum::<f32>(), top + h),
                color: GREY,
                dashed: false,
            });
            l.y += h;
        };
        draw_row(self, head, Some(HEAD_FILL));
        for (i, r) in rows.iter().enumerate() {
            let page_before = self.pages.len();
            if mark.contains(&i) {
                let mut r = r.clone();
                if let Some(first) = r.first_mut() {
                    *first = format!("▶ {first}");
                }
                draw_row(self, &r, Some(MARK_FILL));
            } else {
                draw_row(self, r, None);
            }
            // A row that moved to a new page gets the head repeated above it next time.
            if self.pages.len() != page_before && i + 1 < rows.len() {
                draw_row(self, head, Some(HEAD_FILL));
            }
        }
        self.y += BODY * 0.8;
    }

    fn figure(&mut self, f: &Figure) {
        let scale = (TEXT_W / f.size.0).min(1.0);
        let caption = wrap(&f.caption, BODY - 1.0, TEXT_W);
        self.need(f.size.1 * scale + caption.len() as f32 * BODY * 1.3 + 6.0);
        let (dx, dy) = (MARGIN, self.y);
        let t = |p: (f32, f32)| (dx + p.0 * scale, dy + p.1 * scale);
        let shapes: Vec<Shape> = f
            .shapes
            .iter()
            .map(|s| match s {
                Shape::Line {
                    from,
                    to,
                    color,
                    dashed,
                } => Shape::Line {
                    from: t(*from),
                    to: t(*to),
                    color: *color,
                    dashed: *dashed,
                },
                Shape::Rect { at, size, fill } => Shape::Rect {
                    at: t(*at),
                    size: (size.0 * scale, size.1 * scale),
                    fill: *fill,
                },
                Shape::Dot { at, r, fill } => Shape::Dot {
                    at: t(*at),
                    r: r * scale,
                    fill: *fill,
                },
                Shape::Text {
                    at,
                    size,
                    text,
                    right,
                } => Shape::Text {
                    at: t(*at),
                    size: size * scale,
                    text: text.clone(),
                    right: *right,
                },
            })
            .collect();
        self.page().extend(shapes);
        self.y += f.size.1 * scale + 4.0;
        for line in caption {
            self.text(MARGIN, BODY - 1.0, &line);
            self.y += BODY * 1.3;
        }
        self.y += BODY * 0.6;
    }
}

fn lay_out(c: &Content, digest: &Digest) -> Layout {
    let mut l = Layout::new();
    l.para(&c.title, 15.0, 0.0);
    l.para(
        &format!("Report {} · {} · issued {}", c.number, c.status, c.issued),
        BODY,
        0.0,
    );
    l.para(&format!("Evidence root {}", c.evidence_root), BODY, 0.0);
    l.para(&format!("Report digest {}", digest.to_hex()), BODY, 0.0);
    for sec in &c.sections {
        l.need(60.0);
        l.y += 6.0;
        l.para(sec.title, 12.5, 0.0);
        for b in &sec.blocks {
            match b {
                Block::Para(p) => l.para(p, BODY, 0.0),
                Block::Heading(h) => {
                    l.need(40.0);
                    l.para(h, 10.5, 0.0);
                }
                Block::Facts(f) => l.facts(f),
                Block::Table { head, rows, mark } => l.table(head, rows, mark),
                Block::Figure(f) => l.figure(f),
            }
        }
        if sec.id == "verification" {
            l.para(&format!("Report digest: {}", digest.to_hex()), BODY, 0.0);
        }
    }
    l
}

/// Widths of table columns that must fit `room`: every column gets its natural width up
/// to one common cap, but never less than its longest word, so dates, codes and tool
/// names do not break inside a word; the long text columns share what is left. When even
/// the longest words do not fit, they are scaled down alike.
fn column_widths(natural: &[f32], words: &[f32], room: f32) -> Vec<f32> {
    let at = |cap: f32| -> Vec<f32> {
        natural
            .iter()
            .zip(words)
            .map(|(n, w)| n.min(cap).max(w.min(*n)))
            .collect()
    };
    let sum = |v: &[f32]| v.iter().sum::<f32>();
    let floor = at(0.0);
    if sum(&floor) >= room {
        let k = room / sum(&floor).max(1.0);
        return floor.iter().map(|w| w * k).collect();
    }
    // The widest cap that fits, by bisection (the total grows with the cap).
    let (mut lo, mut hi) = (0.0_f32, natural.iter().copied().fold(0.0, f32::max));
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if sum(&at(mid)) <= room {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    at(lo)
}

fn color(c: Rgb) -> krilla::paint::Paint {
    rgb::Color::new(c.0, c.1, c.2).into()
}

/// The PDF creation date: the issue date (`YYYY-MM-DDTHH:MM:SSZ`) of the records.
fn date(issued: &str) -> Option<DateTime> {
    let n = |a: usize, b: usize| issued.get(a..b)?.parse::<u16>().ok();
    Some(
        DateTime::new(n(0, 4)?)
            .month(u8::try_from(n(5, 7)?).ok()?)
            .day(u8::try_from(n(8, 10)?).ok()?)
            .hour(u8::try_from(n(11, 13)?).ok()?)
            .minute(u8::try_from(n(14, 16)?).ok()?)
            .second(u8::try_from(n(17, 19)?).ok()?)
            .utc_offset_hour(0),
    )
}

/// Renders the content to PDF bytes.
pub(super) fn render(c: &Content, digest: &Digest) -> Result<Vec<u8>, ReportError> {
    let font = Font::new(FONT.to_vec().into(), 0)
        .ok_or_else(|| ReportError::Pdf("the embedded font cannot be read".to_owned()))?;
    let layout = lay_out(c, digest);
    let mut doc = Document::new_with(SerializeSettings::default());
    let mut meta = Metadata::new()
        .title(c.title.clone())
        .creator("interlab".to_owned())
        .producer(format!("interlab {} (krilla)", env!("CARGO_PKG_VERSION")))
        .document_id(digest.to_hex())
        .language("en".to_owned());
    if let Some(d) = date(&c.issued) {
        meta = meta.creation_date(d);
    }
    doc.set_metadata(meta);
    let n = layout.pages.len();
    let size = PageSettings::from_wh(PAGE.0, PAGE.1)
        .ok_or_else(|| ReportError::Pdf("invalid page size".to_owned()))?;
    for (i, shapes) in layout.pages.iter().enumerate() {
        let mut page = doc.start_page_with(size.clone());
        let mut s = page.surface();
        let footer = format!("Report {} · {} · page {} of {n}", c.number, c.status, i + 1);
        let footer_shape = Shape::Text {
            at: (PAGE.0 - MARGIN, PAGE.1 - 30.0),
            size: 7.5,
            text: footer,
            right: true,
        };
        for shape in shapes.iter().chain(std::iter::once(&footer_shape)) {
            draw(&mut s, &font, shape);
        }
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| ReportError::Pdf(e.to_string()))
}

fn draw(s: &mut krilla::surface::Surface<'_>, font: &Font, shape: &Shape) {
    match shape {
        Shape::Line {
            from,
            to,
            color: c,
            dashed,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(from.0, from.1);
            pb.line_to(to.0, to.1);
            if let Some(path) = pb.finish() {
                s.set_fill(None);
                s.set_stroke(Some(Stroke {
                    paint: color(*c),
                    width: 0.7,
                    dash: dashed.then(|| StrokeDash {
                        array: vec![3.0, 2.0],
                        offset: 0.0,
                    }),
                    ..Stroke::default()
                }));
                s.draw_path(&path);
                s.set_stroke(None);
            }
        }
        Shape::Rect { at, size, fill } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(at.0, at.1, size.0.max(0.1), size.1.max(0.1)) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                s.set_stroke(None);
                s.set_fill(Some(Fill {
                    paint: color(*fill),
                    ..Fill::default()
                }));
                s.draw_path(&path);
            }
        }
        Shape::Dot { at, r, fill } => {
            let mut pb = PathBuilder::new();
            circle(&mut pb, *at, *r);
            if let Some(path) = pb.finish() {
                s.set_stroke(None);
                s.set_fill(Some(Fill {
                    paint: color(*fill),
                    ..Fill::default()
                }));
                s.draw_path(&path);
            }
        }
        Shape::Text {
            at,
            size,
            text,
            right,
        } => {
            if text.is_empty() {
                return;
            }
            let x = if *right {
                at.0 - width(text, *size)
            } else {
                at.0
            };
            s.set_stroke(None);
            s.set_fill(Some(Fill {
                paint: color(INK),
                ..Fill::default()
            }));
            s.draw_text(
                Point::from_xy(x, at.1),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
    }
}

/// A circle as four cubic Béziers (κ = 0.5523 of the radius for the control points).
fn circle(pb: &mut PathBuilder, (cx, cy): (f32, f32), r: f32) {
    let k = 0.552_284_8 * r;
    pb.move_to(cx + r, cy);
    pb.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    pb.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    pb.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    pb.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    pb.close();
}

#[cfg(test)]
mod layout_tests {
    use super::column_widths;

    #[test]
    fn narrow_columns_keep_their_width_and_long_words_stay_whole() {
        // A date, a tool name and a long sentence in 300 points.
        let w = column_widths(&[90.0, 140.0, 400.0], &[50.0, 120.0, 60.0], 300.0);
        assert!((w.iter().sum::<f32>() - 300.0).abs() < 0.1, "{w:?}");
        assert_eq!(w[0], 90.0);
        assert!(w[1] >= 120.0 && w[2] >= 60.0, "{w:?}");
        // Words wider than the room are scaled down alike.
        let w = column_widths(&[200.0, 200.0], &[200.0, 200.0], 100.0);
        assert_eq!(w, vec![50.0, 50.0]);
    }
}
