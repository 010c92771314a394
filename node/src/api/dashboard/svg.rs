//! Small SVG building blocks: escaping, number formatting, linear scales, nice ticks and
//! the three chart shapes the dashboard needs (horizontal bars, scatter, lines). Every
//! chart states how many marks it drew (`data-bars` / `data-points`) so a test can check
//! that it is not empty; a chart with nothing to draw becomes a sentence saying why.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number with about four significant digits, trailing zeros removed.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 7) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// An optional number, or a dash.
pub(crate) fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), num)
}

/// A coordinate in the SVG (one decimal is plenty).
pub(crate) fn c(v: f64) -> String {
    format!("{v:.1}")
}

/// Maps a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    /// A scale over `[lo, hi]` (widened when empty) onto `[r0, r1]`.
    pub(crate) fn new(lo: f64, hi: f64, r0: f64, r1: f64) -> Scale {
        let (lo, hi) = widen(lo, hi);
        Scale {
            d0: lo,
            d1: hi,
            r0,
            r1,
        }
    }

    /// Pixel position of `v`.
    pub(crate) fn at(&self, v: f64) -> f64 {
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    /// Nice tick values inside the domain.
    pub(crate) fn ticks(&self, n: usize) -> Vec<f64> {
        nice_ticks(self.d0, self.d1, n)
    }
}

/// Makes `[lo, hi]` a non-empty finite interval.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    if hi - lo > f64::EPSILON * lo.abs().max(1.0) * 16.0 {
        (lo, hi)
    } else {
        let pad = (lo.abs() * 0.05).max(1e-3);
        (lo - pad, hi + pad)
    }
}

/// The extent of `values` plus `pad` of its span on both sides.
pub(crate) fn extent(values: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    let (lo, hi) = widen(lo, hi);
    let span = hi - lo;
    (lo - span * pad, hi + span * pad)
}

/// Round numbers (1, 2, 5 × 10ⁿ) covering `[lo, hi]`, about `n` of them.
pub(crate) fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = widen(lo, hi);
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last.min(first + 50))
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// A chart that had nothing to draw: the reason, in the chart's place.
pub(crate) fn empty(class: &str, title: &str, why: &str) -> String {
    format!(
        "<div class=\"chart-empty {}\"><div class=\"chart-title\">{}</div><p>{}</p></div>",
        esc(class),
        esc(title),
        esc(why)
    )
}

/// A horizontal reference line or band on a value axis.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Value on the value axis.
    pub(crate) value: f64,
    /// Short label.
    pub(crate) label: String,
    /// CSS class (`crit1`, `crit5`, `assigned`).
    pub(crate) class: &'static str,
}

/// A shaded interval on the value axis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Band {
    /// Lower end.
    pub(crate) lo: f64,
    /// Upper end.
    pub(crate) hi: f64,
    /// CSS class.
    pub(crate) class: &'static str,
}

/// One bar: category label, value (None: no bar, "n/a" shown) and a CSS class.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    /// Category (lab name).
    pub(crate) label: String,
    /// Bar length.
    pub(crate) value: Option<f64>,
    /// CSS class of the bar (`ok`, `warn`, `bad`).
    pub(crate) class: &'static str,
    /// The reading lab's name when the bar is its result (the bar is then marked).
    pub(crate) yours: Option<String>,
}

const LABEL_W: f64 = 165.0;
/// Width of every chart's view box.
pub(crate) const WIDTH: f64 = 560.0;
const ROW: f64 = 24.0;

/// Horizontal bars per category, with bands and reference lines (vertical, on the
/// value axis). `min_domain` is always kept visible (e.g. ±3 for z); `caption` is
/// trusted HTML shown under the chart.
pub(crate) fn hbars(
    class: &str,
    title: &str,
    bars: &[Bar],
    bands: &[Band],
    rules: &[Rule],
    min_domain: (f64, f64),
    caption: &str,
) -> String {
    let drawn = bars.iter().filter(|b| b.value.is_some()).count();
    if drawn == 0 {
        return empty(class, title, "no lab has a value for this chart");
    }
    let (top, bottom) = (20.0, 22.0);
    let height = top + bottom + ROW * bars.len() as f64;
    let (lo, hi) = extent(
        bars.iter()
            .filter_map(|b| b.value)
            .chain(rules.iter().map(|r| r.value))
            .chain([min_domain.0, min_domain.1, 0.0]),
        0.06,
    );
    // Room at both ends for the value printed next to a bar.
    let x = Scale::new(lo, hi, LABEL_W + 40.0, WIDTH - 44.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure class=\"chart-box\"><figcaption class=\"chart-title\">{}</figcaption>\
         <svg class=\"chart {}\" data-bars=\"{drawn}\" viewBox=\"0 0 {WIDTH} {}\" \
         role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(class),
        c(height),
        esc(title)
    );
    let plot_bottom = height - bottom;
    for b in bands {
        let (x0, x1) = (x.at(b.lo.max(lo)), x.at(b.hi.min(hi)));
        if x1 > x0 {
            let _ = write!(
                s,
                "<rect class=\"band {}\" x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{}\"/>",
                b.class,
                c(x0),
                c(x1 - x0),
                c(plot_bottom - top)
            );
        }
    }
    axis_x(&mut s, &x, plot_bottom, top);
    for (i, b) in bars.iter().enumerate() {
        let y = top + ROW * i as f64;
        // The reading lab's row: a pale stripe, a pointer before its name, and an
        // outlined bar that names it in `data-yours`.
        let (cat, mark, label) = match &b.yours {
            Some(name) => {
                let _ = write!(
                    s,
                    "<rect class=\"yours-row\" x=\"0\" y=\"{}\" width=\"{WIDTH}\" height=\"{}\"/>",
                    c(y + 1.0),
                    c(ROW - 2.0)
                );
                (
                    "cat yours",
                    format!(" yours\" data-yours=\"{}", esc(name)),
                    format!("▶ {}", truncate(&b.label, 19)),
                )
            }
            None => ("cat", String::new(), truncate(&b.label, 21)),
        };
        let _ = write!(
            s,
            "<text class=\"{cat}\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            c(LABEL_W - 8.0),
            c(y + ROW * 0.65),
            esc(&label)
        );
        match b.value {
            Some(v) => {
                let (x0, x1) = (x.at(0.0f64.clamp(lo, hi)), x.at(v));
                let _ = write!(
                    s,
                    "<rect class=\"bar {}{mark}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\">\
                     <title>{}: {}</title></rect>",
                    b.class,
                    c(x0.min(x1)),
                    c(y + 4.0),
                    c((x1 - x0).abs().max(1.0)),
                    c(ROW - 8.0),
                    esc(&b.label),
                    num(v)
                );
                let (tx, anchor) = if v >= 0.0 {
                    (x1 + 4.0, "start")
                } else {
                    (x1 - 4.0, "end")
                };
                let _ = write!(
                    s,
                    "<text class=\"val\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                    c(tx),
                    c(y + ROW * 0.65),
                    num(v)
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text class=\"na\" x=\"{}\" y=\"{}\">n/a</text>",
                    c(x.at(0.0f64.clamp(lo, hi)) + 4.0),
                    c(y + ROW * 0.65)
                );
            }
        }
    }
    // Labels of lines closer than a label's width are left out (the line stays).
    let mut labelled: Vec<f64> = Vec::new();
    for r in rules {
        let xr = x.at(r.value);
        let _ = write!(
            s,
            "<line class=\"rule {}\" x1=\"{}\" y1=\"{top}\" x2=\"{}\" y2=\"{}\"/>",
            r.class,
            c(xr),
            c(xr),
            c(plot_bottom),
        );
        if labelled.iter().all(|l| (l - xr).abs() > 24.0) {
            labelled.push(xr);
            let _ = write!(
                s,
                "<text class=\"rule-label {}\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                r.class,
                c(xr),
                c(top - 6.0),
                esc(&r.label)
            );
        }
    }
    s.push_str("</svg>");
    if !caption.is_empty() {
        let _ = write!(s, "<div class=\"chart-note\">{caption}</div>");
    }
    s.push_str("</figure>");
    s
}

pub(crate) fn axis_x(s: &mut String, x: &Scale, y: f64, top: f64) {
    for t in x.ticks(6) {
        let xt = x.at(t);
        let _ = write!(
            s,
            "<line class=\"grid{}\" x1=\"{}\" y1=\"{top}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            if t == 0.0 { " zero" } else { "" },
            c(xt),
            c(xt),
            c(y),
            c(xt),
            c(y + 13.0),
            num(t)
        );
    }
}

pub(crate) fn axis_y(s: &mut String, y: &Scale, x0: f64, x1: f64) {
    for t in y.ticks(5) {
        let yt = y.at(t);
        let _ = write!(
            s,
            "<line class=\"grid{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            if t == 0.0 { " zero" } else { "" },
            c(x0),
            c(yt),
            c(x1),
            c(yt),
            c(x0 - 5.0),
            c(yt + 4.0),
            num(t)
        );
    }
}

/// Shortens a label for an axis (the full text stays in tables and tooltips).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(-2.0), "-2");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(num(1.5e-7), "1.500e-7");
    }

    #[test]
    fn ticks_are_round_and_inside_the_interval() {
        assert_eq!(nice_ticks(-3.2, 3.2, 6), vec![-2.0, 0.0, 2.0]);
        assert_eq!(
            nice_ticks(-3.2, 3.2, 7),
            vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        );
        let t = nice_ticks(0.5, 0.5, 5);
        assert!(!t.is_empty() && t.iter().all(|v| (0.47..=0.53).contains(v)));
    }

    #[test]
    fn a_scale_over_an_empty_interval_still_maps_finitely() {
        let s = Scale::new(2.0, 2.0, 0.0, 100.0);
        assert!(s.at(2.0).is_finite());
        assert!((s.at(2.0) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn bars_count_only_drawn_values_and_none_gives_a_message() {
        let bars = vec![
            Bar {
                label: "a".into(),
                value: Some(1.0),
                class: "ok",
                yours: None,
            },
            Bar {
                label: "b".into(),
                value: None,
                class: "ok",
                yours: None,
            },
        ];
        let svg = hbars("z-scores", "z", &bars, &[], &[], (-3.0, 3.0), "");
        assert!(svg.contains("data-bars=\"1\""), "{svg}");
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 1);
        assert!(svg.contains(">n/a<"));
        let none = hbars("z-scores", "z", &bars[1..], &[], &[], (-3.0, 3.0), "");
        assert!(none.contains("chart-empty z-scores") && !none.contains("<svg"));
    }
}
