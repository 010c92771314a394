//! The report as one self-contained HTML page (inline SVG, inline CSS, no script), with
//! print rules so that a browser prints it with page numbers.

use std::fmt::Write;

use interlab_protocol::Digest;

use super::doc::{Block, Content, Figure, Shape};

const CSS: &str = r#"
body{font-family:"DejaVu Sans",Verdana,sans-serif;font-size:10pt;color:#1e1e1e;max-width:52em;margin:2em auto;padding:0 1em}
h1{font-size:15pt;margin:0 0 .3em}h2{font-size:12pt;margin:1.6em 0 .4em;border-bottom:1px solid #999}
h3{font-size:10.5pt;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0 .8em;font-size:8.5pt}
th,td{border:1px solid #bbb;padding:2px 5px;text-align:left;vertical-align:top;word-break:break-word}
th{background:#eee}tr.yours td{background:#e4f0ff;font-weight:bold}
dl.facts{display:grid;grid-template-columns:14em 1fr;gap:2px 1em;margin:.4em 0}
dl.facts dt{color:#555}dl.facts dd{margin:0;word-break:break-all}
figure{margin:.6em 0}figcaption{font-size:8.5pt;color:#444}
.digest{font-family:monospace;word-break:break-all}
"#;

/// The print footer: the same words as the PDF's ("Report N · status · page i of n"),
/// in a CSS margin box that browsers fill in when printing.
fn page_rule(c: &Content) -> String {
    // Report numbers and status words are ASCII letters, digits and dashes; anything
    // else is dropped so the CSS string cannot be closed early.
    let safe = |t: &str| -> String {
        t.chars()
            .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '-')
            .collect()
    };
    format!(
        "@page{{size:A4;margin:18mm 16mm;@bottom-right{{font-size:8pt;color:#555;\
         content:\"Report {} · {} · page \" counter(page) \" of \" counter(pages)}}}}",
        safe(&c.number),
        safe(c.status)
    )
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn rgb(c: (u8, u8, u8)) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A figure as inline SVG.
pub(super) fn svg(f: &Figure) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">",
        w = f.size.0,
        h = f.size.1
    );
    for shape in &f.shapes {
        let _ = match shape {
            Shape::Line {
                from,
                to,
                color,
                dashed,
            } => write!(
                s,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"0.8\"{}/>",
                from.0,
                from.1,
                to.0,
                to.1,
                rgb(*color),
                if *dashed {
                    " stroke-dasharray=\"3 2\""
                } else {
                    ""
                }
            ),
            Shape::Rect { at, size, fill } => write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
                at.0,
                at.1,
                size.0,
                size.1,
                rgb(*fill)
            ),
            Shape::Dot { at, r, fill } => write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{r}\" fill=\"{}\"/>",
                at.0,
                at.1,
                rgb(*fill)
            ),
            Shape::Text {
                at,
                size,
                text,
                right,
            } => write!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"{size}\"{}>{}</text>",
                at.0,
                at.1,
                if *right { " text-anchor=\"end\"" } else { "" },
                esc(text)
            ),
        };
    }
    s.push_str("</svg>");
    s
}

/// The whole page.
pub(super) fn render(c: &Content, digest: &Digest) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{CSS}{}</style></head><body><header><h1>{}</h1>\
         <p>Report {} · {} · issued {} · evidence root <span class=\"digest\">{}</span></p></header>",
        esc(&c.title),
        page_rule(c),
        esc(&c.title),
        esc(&c.number),
        c.status,
        esc(&c.issued),
        esc(&c.evidence_root)
    );
    for sec in &c.sections {
        let _ = write!(s, "<section id=\"{}\"><h2>{}</h2>", sec.id, esc(sec.title));
        for b in &sec.blocks {
            block(&mut s, b);
        }
        if sec.id == "verification" {
            let _ = write!(
                s,
                "<p id=\"report-digest\">Report digest: <span class=\"digest\">{}</span></p>",
                digest.to_hex()
            );
        }
        s.push_str("</section>");
    }
    s.push_str("</body></html>\n");
    s
}

fn block(s: &mut String, b: &Block) {
    match b {
        Block::Para(p) => {
            let _ = write!(s, "<p>{}</p>", esc(p));
        }
        Block::Heading(h) => {
            let _ = write!(s, "<h3>{}</h3>", esc(h));
        }
        Block::Facts(f) => {
            s.push_str("<dl class=\"facts\">");
            for (k, v) in f {
                let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
            }
            s.push_str("</dl>");
        }
        Block::Table { head, rows, mark } => {
            s.push_str("<table><thead><tr>");
            for h in head {
                let _ = write!(s, "<th>{}</th>", esc(h));
            }
            s.push_str("</tr></thead><tbody>");
            for (i, r) in rows.iter().enumerate() {
                let yours = mark.contains(&i);
                s.push_str(if yours {
                    "<tr class=\"yours\">"
                } else {
                    "<tr>"
                });
                for (j, cell) in r.iter().enumerate() {
                    let prefix = if yours && j == 0 { "▶ " } else { "" };
                    let _ = write!(s, "<td>{prefix}{}</td>", esc(cell));
                }
                s.push_str("</tr>");
            }
            s.push_str("</tbody></table>");
        }
        Block::Figure(f) => {
            let _ = write!(
                s,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                svg(f),
                esc(&f.caption)
            );
        }
    }
}
