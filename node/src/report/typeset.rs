//! Text measurement and line breaking with the embedded font's advance widths, so that
//! the PDF layout wraps paragraphs and table cells where they really end.

use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera licence, see `node/assets/fonts/LICENSE-DejaVu.txt`): it
/// covers σ, ζ, κ, ±, √, ≤, ≥, ▶ and subscripts. The PDF embeds a subset.
pub(crate) const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Advance widths per char (in em), for the chars the report uses most.
struct Metrics {
    ascii: [f32; 128],
    face_ok: bool,
}

fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let mut ascii = [0.6_f32; 128];
        let face = ttf_parser::Face::parse(FONT, 0).ok();
        if let Some(f) = &face {
            let upem = f32::from(f.units_per_em().max(1));
            for (i, w) in ascii.iter_mut().enumerate() {
                if let Some(ch) = char::from_u32(i as u32)
                    && let Some(g) = f.glyph_index(ch)
                    && let Some(a) = f.glyph_hor_advance(g)
                {
                    *w = f32::from(a) / upem;
                }
            }
        }
        Metrics {
            ascii,
            face_ok: face.is_some(),
        }
    })
}

fn advance(ch: char) -> f32 {
    let m = metrics();
    if (ch as u32) < 128 {
        return m.ascii[ch as usize];
    }
    if m.face_ok
        && let Ok(f) = ttf_parser::Face::parse(FONT, 0)
        && let Some(g) = f.glyph_index(ch)
        && let Some(a) = f.glyph_hor_advance(g)
    {
        return f32::from(a) / f32::from(f.units_per_em().max(1));
    }
    0.6
}

/// Width of `s` at `size` points.
pub(crate) fn width(s: &str, size: f32) -> f32 {
    s.chars().map(advance).sum::<f32>() * size
}

/// Greedy line breaking at spaces; a word longer than the line is cut between chars.
pub(crate) fn wrap(s: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut cur = String::new();
        for word in para.split(' ') {
            let candidate = if cur.is_empty() {
                word.to_owned()
            } else {
                format!("{cur} {word}")
            };
            if width(&candidate, size) <= max {
                cur = candidate;
                continue;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            for ch in word.chars() {
                if !cur.is_empty() && width(&cur, size) + advance(ch) * size > max {
                    lines.push(std::mem::take(&mut cur));
                }
                cur.push(ch);
            }
        }
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_the_width_and_keep_every_character() {
        let text = "σ_pt basis: 0123456789abcdef0123456789abcdef0123456789abcdef fits ± √ ζ κ";
        let lines = wrap(text, 9.0, 120.0);
        assert!(lines.len() > 2, "{lines:?}");
        for l in &lines {
            assert!(width(l, 9.0) <= 120.0 + 0.01, "{l} is too wide");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn the_font_measures_narrow_and_wide_letters_differently() {
        assert!(width("iiii", 10.0) < width("MMMM", 10.0));
    }
}
