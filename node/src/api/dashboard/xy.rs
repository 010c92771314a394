//! Two-axis charts (scatter and lines): the plotting frame, points, series, limit lines
//! and the colour legend that ties series to labs.

use std::fmt::Write;

use super::svg::{Rule, Scale, WIDTH, axis_x, axis_y, c, esc, num, truncate};

/// A plotting frame with both axes: the x and y scales and the pixel box.
pub(crate) struct Frame {
    /// x scale.
    pub(crate) x: Scale,
    /// y scale.
    pub(crate) y: Scale,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

/// Opens a two-axis chart; returns the SVG text so far and the frame to draw in.
pub(crate) fn open_xy(
    class: &str,
    title: &str,
    count_attr: (&str, usize),
    xdom: (f64, f64),
    ydom: (f64, f64),
    labels: (&str, &str),
    height: f64,
) -> (String, Frame) {
    let (left, right, top, bottom) = (62.0, WIDTH - 16.0, 10.0, height - 40.0);
    let f = Frame {
        x: Scale::new(xdom.0, xdom.1, left, right),
        y: Scale::new(ydom.0, ydom.1, bottom, top),
        left,
        right,
        top,
        bottom,
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure class=\"chart-box\"><figcaption class=\"chart-title\">{}</figcaption>\
         <svg class=\"chart {}\" {}=\"{}\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(title),
        esc(class),
        count_attr.0,
        count_attr.1,
        c(height),
        esc(title)
    );
    axis_x(&mut s, &f.x, f.bottom, f.top);
    axis_y(&mut s, &f.y, f.left, f.right);
    let _ = write!(
        s,
        "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\
         <text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis-label\" transform=\"translate(14 {}) rotate(-90)\" \
         text-anchor=\"middle\">{}</text>",
        c(left),
        c(top),
        c(right - left),
        c(bottom - top),
        c((left + right) / 2.0),
        c(height - 6.0),
        esc(labels.0),
        c((top + bottom) / 2.0),
        esc(labels.1)
    );
    (s, f)
}

impl Frame {
    /// A horizontal line at `y` with a label at the right end.
    pub(crate) fn hline(&self, s: &mut String, r: &Rule) {
        let y = self.y.at(r.value);
        let _ = write!(
            s,
            "<line class=\"rule {}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"rule-label {}\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            r.class,
            c(self.left),
            c(y),
            c(self.right),
            c(y),
            r.class,
            c(self.right - 3.0),
            c(y - 3.0),
            esc(&r.label)
        );
    }

    /// A vertical line at `x` with a label at the top.
    pub(crate) fn vline(&self, s: &mut String, r: &Rule) {
        let x = self.x.at(r.value);
        let _ = write!(
            s,
            "<line class=\"rule {}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"rule-label {}\" x=\"{}\" y=\"{}\">{}</text>",
            r.class,
            c(x),
            c(self.top),
            c(x),
            c(self.bottom),
            r.class,
            c(x + 3.0),
            c(self.top + 11.0),
            esc(&r.label)
        );
    }

    /// A point, labelled unless an earlier label (in `taken`) sits too close. The
    /// reading lab's point (`yours`) is larger, ringed, and always labelled.
    pub(crate) fn point(
        &self,
        s: &mut String,
        (x, y): (f64, f64),
        label: &str,
        color: usize,
        yours: bool,
        taken: &mut Vec<(f64, f64)>,
    ) {
        let (px, py) = (self.x.at(x), self.y.at(y));
        let (mark, r) = if yours {
            (format!(" yours\" data-yours=\"{}", esc(label)), 7)
        } else {
            (String::new(), 5)
        };
        let _ = write!(
            s,
            "<circle class=\"point s{}{mark}\" cx=\"{}\" cy=\"{}\" r=\"{r}\"><title>{}: ({}, {})</title>\
             </circle>",
            color % PALETTE,
            c(px),
            c(py),
            esc(label),
            num(x),
            num(y),
        );
        if yours
            || taken
                .iter()
                .all(|(tx, ty)| (tx - px).abs() > 90.0 || (ty - py).abs() > 14.0)
        {
            taken.push((px, py));
            let _ = write!(
                s,
                "<text class=\"point-label{}\" x=\"{}\" y=\"{}\">{}{}</text>",
                if yours { " yours" } else { "" },
                c(px + 9.0),
                c(py - 6.0),
                if yours { "▶ " } else { "" },
                esc(&truncate(label, 18))
            );
        }
    }

    /// A polyline with a marker at every point; the reading lab's series (`yours`
    /// names it) is drawn thicker with ringed markers.
    pub(crate) fn series(
        &self,
        s: &mut String,
        pts: &[(f64, f64)],
        color: usize,
        dashed: bool,
        yours: Option<&str>,
    ) {
        let mark = yours.map_or_else(String::new, |n| format!(" yours\" data-yours=\"{}", esc(n)));
        let class = format!(
            "series s{}{}{mark}",
            color % PALETTE,
            if dashed { " dashed" } else { "" }
        );
        if pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|(x, y)| format!("{},{}", c(self.x.at(*x)), c(self.y.at(*y))))
                .collect();
            let _ = write!(
                s,
                "<polyline class=\"{class}\" points=\"{}\"/>",
                path.join(" ")
            );
        }
        for (x, y) in pts {
            let _ = write!(
                s,
                "<circle class=\"marker s{}{}\" cx=\"{}\" cy=\"{}\" r=\"{}\"/>",
                color % PALETTE,
                if yours.is_some() { " yours" } else { "" },
                c(self.x.at(*x)),
                c(self.y.at(*y)),
                if yours.is_some() { "5" } else { "3.5" }
            );
        }
    }

    /// A stepped limit line through `pts` (value per x), e.g. EWMA control limits.
    pub(crate) fn limit_path(&self, s: &mut String, pts: &[(f64, f64)], class: &str) {
        if pts.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{},{} ",
                if i == 0 { "M" } else { "L" },
                c(self.x.at(*x)),
                c(self.y.at(*y))
            );
        }
        if pts.len() == 1 {
            let _ = write!(
                d,
                "M{},{} L{},{}",
                c(self.left),
                c(self.y.at(pts[0].1)),
                c(self.right),
                c(self.y.at(pts[0].1))
            );
        }
        let _ = write!(s, "<path class=\"rule {class}\" d=\"{}\"/>", d.trim_end());
    }
}

/// Number of distinct series colours in the stylesheet.
pub(crate) const PALETTE: usize = 10;

/// A legend of lab colours; the reading lab (`own`) is marked "your results".
pub(crate) fn legend(labs: &[(String, usize)], own: Option<&str>) -> String {
    let mut s = String::from("<div class=\"legend\">");
    for (name, color) in labs {
        if own == Some(name.as_str()) {
            let _ = write!(
                s,
                "<span class=\"yours\" data-yours=\"{}\"><i class=\"swatch s{}\"></i>{} \
                 (your results)</span>",
                esc(name),
                color % PALETTE,
                esc(name)
            );
            continue;
        }
        let _ = write!(
            s,
            "<span><i class=\"swatch s{}\"></i>{}</span>",
            color % PALETTE,
            esc(name)
        );
    }
    s.push_str("</div>");
    s
}
