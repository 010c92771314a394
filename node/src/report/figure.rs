//! The report's charts as vector figures: score bars (z, ζ) with their bands, Mandel h
//! and k with the ISO 5725-2 critical values, the Youden plot of two measurands and the
//! control chart of each lab's scores across rounds. The same charts as the dashboard,
//! drawn as [`Shape`]s so that HTML (SVG) and PDF (vector paths) show identical figures.

use std::collections::BTreeMap;

use interlab_protocol::stats::{MeasurandReport, scores::Band as ZBand};

use super::doc::{BAD, BAD_BAND, Figure, GREY, INK, OK, Rgb, Shape, WARN, WARN_BAND, num};

/// Width of every figure (points; fits an A4 text column).
const W: f32 = 480.0;
/// Left margin for labels.
const LEFT: f32 = 150.0;
/// Height of one bar row.
const ROW: f32 = 14.0;

/// A horizontal bar per label.
pub(crate) struct Bars<'a> {
    pub(crate) caption: String,
    pub(crate) items: Vec<(String, Option<f64>, Rgb)>,
    /// Shaded ranges (lo, hi, fill).
    pub(crate) bands: &'a [(f64, f64, Rgb)],
    /// Reference lines (value, dashed).
    pub(crate) rules: Vec<(f64, bool)>,
    /// The axis always shows at least this range.
    pub(crate) min_range: (f64, f64),
}

/// The colour of a score band.
pub(crate) fn band_color(b: Option<ZBand>) -> Rgb {
    match b {
        Some(ZBand::Questionable) => WARN,
        Some(ZBand::Unsatisfactory) => BAD,
        _ => OK,
    }
}

/// Bands of z-like scores: questionable 2 < |s| < 3, unsatisfactory beyond.
pub(crate) const SCORE_BANDS: [(f64, f64, Rgb); 4] = [
    (-3.0, -2.0, WARN_BAND),
    (2.0, 3.0, WARN_BAND),
    (-1e9, -3.0, BAD_BAND),
    (3.0, 1e9, BAD_BAND),
];

struct Scale {
    lo: f64,
    hi: f64,
    x0: f32,
    x1: f32,
}

impl Scale {
    fn at(&self, v: f64) -> f32 {
        let v = v.clamp(self.lo, self.hi);
        self.x0 + ((v - self.lo) / (self.hi - self.lo)) as f32 * (self.x1 - self.x0)
    }
}

fn extent(values: impl Iterator<Item = f64>, min: (f64, f64)) -> (f64, f64) {
    let (mut lo, mut hi) = min;
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn text(at: (f32, f32), size: f32, t: impl Into<String>, right: bool) -> Shape {
    Shape::Text {
        at,
        size,
        text: t.into(),
        right,
    }
}

fn line(from: (f32, f32), to: (f32, f32), color: Rgb, dashed: bool) -> Shape {
    Shape::Line {
        from,
        to,
        color,
        dashed,
    }
}

/// Horizontal bars from zero, one row per label, with bands and reference lines.
pub(crate) fn bars(b: Bars<'_>) -> Figure {
    let top = 8.0;
    let h = top + ROW * b.items.len().max(1) as f32 + 24.0;
    let (lo, hi) = extent(
        b.items
            .iter()
            .filter_map(|i| i.1)
            .chain(b.rules.iter().map(|r| r.0)),
        b.min_range,
    );
    let x = Scale {
        lo,
        hi,
        x0: LEFT,
        x1: W - 10.0,
    };
    let bottom = top + ROW * b.items.len().max(1) as f32;
    let mut s = Vec::new();
    for &(blo, bhi, fill) in b.bands {
        if bhi < lo || blo > hi {
            continue;
        }
        let (a, z) = (x.at(blo), x.at(bhi));
        s.push(Shape::Rect {
            at: (a, top),
            size: (z - a, bottom - top),
            fill,
        });
    }
    for (i, (label, v, color)) in b.items.iter().enumerate() {
        let y = top + ROW * i as f32;
        s.push(text((LEFT - 6.0, y + ROW - 4.0), 7.5, label.clone(), true));
        match v {
            Some(v) => {
                let (a, z) = (x.at(0.0_f64.clamp(lo, hi)), x.at(*v));
                s.push(Shape::Rect {
                    at: (a.min(z), y + 2.0),
                    size: ((z - a).abs().max(0.8), ROW - 4.0),
                    fill: *color,
                });
                let label_x = if *v >= 0.0 { z + 3.0 } else { z - 3.0 };
                s.push(text(
                    (label_x.clamp(LEFT, W - 4.0), y + ROW - 4.0),
                    6.5,
                    num(Some(*v)),
                    *v < 0.0,
                ));
            }
            None => s.push(text(
                (LEFT + 4.0, y + ROW - 4.0),
                7.0,
                "not available",
                false,
            )),
        }
    }
    for &(v, dashed) in &b.rules {
        if (lo..=hi).contains(&v) {
            s.push(line((x.at(v), top), (x.at(v), bottom), INK, dashed));
        }
    }
    axis(&mut s, &x, bottom);
    Figure {
        caption: b.caption,
        size: (W, h),
        shapes: s,
    }
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(mag * 10.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 12 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn axis(s: &mut Vec<Shape>, x: &Scale, y: f32) {
    s.push(line((x.x0, y), (x.x1, y), GREY, false));
    for t in ticks(x.lo, x.hi) {
        let px = x.at(t);
        s.push(line((px, y), (px, y + 3.0), GREY, false));
        s.push(text((px - 6.0, y + 12.0), 6.5, num(Some(t)), false));
    }
}

fn axis_y(s: &mut Vec<Shape>, y: &Scale, x: f32) {
    s.push(line((x, y.x0), (x, y.x1), GREY, false));
    for t in ticks(y.lo, y.hi) {
        let py = y.at(t);
        s.push(line((x - 3.0, py), (x, py), GREY, false));
        s.push(text((x - 5.0, py + 2.5), 6.5, num(Some(t)), true));
    }
}

/// Youden plot: each lab's mean on measurand `a` against `b`, with the assigned values.
pub(crate) fn youden(a: &MeasurandReport, b: &MeasurandReport) -> Option<Figure> {
    let bm: BTreeMap<&str, f64> = b
        .labs
        .iter()
        .filter_map(|l| Some((l.lab.as_str(), l.mean?)))
        .collect();
    let pts: Vec<(&str, f64, f64)> = a
        .labs
        .iter()
        .filter_map(|l| Some((l.lab.as_str(), l.mean?, *bm.get(l.lab.as_str())?)))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let xa = a.assessment.x_pt;
    let xb = b.assessment.x_pt;
    let (xlo, xhi) = extent(pts.iter().map(|p| p.1).chain(xa), (f64::MAX, f64::MIN));
    let (ylo, yhi) = extent(pts.iter().map(|p| p.2).chain(xb), (f64::MAX, f64::MIN));
    let (w, h) = (W, 260.0);
    let x = Scale {
        lo: xlo,
        hi: xhi,
        x0: 60.0,
        x1: w - 110.0,
    };
    let y = Scale {
        lo: yhi,
        hi: ylo,
        x0: 10.0,
        x1: h - 30.0,
    };
    // `y` maps high values to the top: swap bounds and clamp by hand.
    let ypos = |v: f64| y.x0 + ((yhi - v) / (yhi - ylo)) as f32 * (y.x1 - y.x0);
    let mut s = Vec::new();
    if let Some(v) = xa {
        s.push(line((x.at(v), y.x0), (x.at(v), y.x1), GREY, true));
    }
    if let Some(v) = xb {
        s.push(line((x.x0, ypos(v)), (x.x1, ypos(v)), GREY, true));
    }
    for (lab, va, vb) in &pts {
        let at = (x.at(*va), ypos(*vb));
        s.push(Shape::Dot {
            at,
            r: 3.0,
            fill: INK,
        });
        s.push(text(
            (at.0 + 5.0, at.1 - 3.0),
            6.5,
            (*lab).to_owned(),
            false,
        ));
    }
    axis(&mut s, &x, y.x1);
    let yscale = Scale {
        lo: ylo,
        hi: yhi,
        x0: y.x1,
        x1: y.x0,
    };
    axis_y(&mut s, &yscale, x.x0);
    Some(Figure {
        caption: format!(
            "Youden plot: lab means on {} (x) against {} (y); dashed lines at the assigned values",
            a.measurand, b.measurand
        ),
        size: (w, h),
        shapes: s,
    })
}

/// Control chart: each lab's score per round with the ±2 and ±3 limits.
pub(crate) fn control(
    measurand: &str,
    series: &BTreeMap<String, Vec<(u64, f64)>>,
) -> Option<Figure> {
    let rounds: Vec<u64> = {
        let mut r: Vec<u64> = series.values().flatten().map(|p| p.0).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    if rounds.is_empty() {
        return None;
    }
    let (w, h) = (W, 220.0);
    let (lo, hi) = extent(series.values().flatten().map(|p| p.1), (-3.5, 3.5));
    let y = Scale {
        lo,
        hi,
        x0: h - 30.0,
        x1: 10.0,
    };
    let xs = |r: u64| {
        let i = rounds.iter().position(|x| *x == r).unwrap_or(0) as f32;
        let n = (rounds.len().max(2) - 1) as f32;
        60.0 + i / n * (w - 200.0)
    };
    let mut s = Vec::new();
    for (v, c, d) in [
        (2.0, WARN, true),
        (-2.0, WARN, true),
        (3.0, BAD, false),
        (-3.0, BAD, false),
    ] {
        if (lo..=hi).contains(&v) {
            s.push(line((60.0, y.at(v)), (w - 140.0, y.at(v)), c, d));
        }
    }
    for (li, (lab, pts)) in series.iter().enumerate() {
        let shade = (li * 37 % 120) as u8;
        let color = (20 + shade, 60 + shade / 2, 140 - shade / 2);
        for pair in pts.windows(2) {
            s.push(line(
                (xs(pair[0].0), y.at(pair[0].1)),
                (xs(pair[1].0), y.at(pair[1].1)),
                color,
                false,
            ));
        }
        for (r, v) in pts {
            s.push(Shape::Dot {
                at: (xs(*r), y.at(*v)),
                r: 2.5,
                fill: color,
            });
        }
        if let Some((r, v)) = pts.last() {
            s.push(text(
                (xs(*r) + 6.0, y.at(*v) + 2.5),
                6.5,
                lab.clone(),
                false,
            ));
        }
    }
    axis_y(&mut s, &y, 60.0);
    let base = h - 30.0;
    s.push(line((60.0, base), (w - 140.0, base), GREY, false));
    for r in &rounds {
        s.push(text(
            (xs(*r) - 8.0, base + 12.0),
            6.5,
            format!("round {r}"),
            false,
        ));
    }
    Some(Figure {
        caption: format!(
            "Control chart of {measurand}: each lab's score per round; dashed ±2, solid ±3"
        ),
        size: (w, h),
        shapes: s,
    })
}
