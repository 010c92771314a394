//! "Your results" (ISO/IEC 17043: each participant can find its own results, also when
//! labs appear by code): on a lab's own node the dashboard marks that lab's table rows
//! with a badge and bold text, outlines its bars and rings its points. A node whose key
//! is not an accredited lab (the scheme owner's, a regulator's) marks nothing, and no
//! node marks another lab.
//!
//! Every marked element carries `data-yours="<lab as displayed>"`, so a test (or a
//! reader's tool) can list exactly what the page marked.

use interlab_protocol::{Authority, PublicKey};

use super::svg::esc;

/// The reading node's own lab: its key and the name the statistics show it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Own {
    /// The lab's key (the node's signing key).
    pub(crate) key: PublicKey,
    /// Its display name (a code in a coded scheme).
    pub(crate) name: String,
}

/// The node's own lab, when its key is an accredited (or once accredited) lab.
///
/// The display name follows the governance rule that results and charts use: the
/// accredited name (or code), with the short key appended when two labs share the name.
pub(crate) fn own(authority: &Authority, key: &PublicKey) -> Option<Own> {
    let lab = authority.lab(key)?;
    let clash = authority.labs().filter(|l| l.name == lab.name).count() > 1;
    let name = if clash {
        format!("{} ({})", lab.name, key.short())
    } else {
        lab.name.clone()
    };
    Some(Own { key: *key, name })
}

impl Own {
    /// Whether a row or bar shown under `name` is this lab's.
    pub(crate) fn is(&self, name: &str) -> bool {
        self.name == name
    }
}

/// The badge put before the reading lab's name in tables.
pub(crate) const BADGE: &str = "<span class=\"badge yours\">your results</span> ";

/// `class` and `data-yours` attributes of a table row or list item: `extra` classes are
/// kept, and `yours` is added with the lab's name when `mine` is set (the caller passes
/// the reading lab only for its own row).
pub(crate) fn row(mine: Option<&Own>, extra: &str) -> String {
    match mine {
        Some(o) if extra.is_empty() => format!(" class=\"yours\" data-yours=\"{}\"", esc(&o.name)),
        Some(o) => format!(" class=\"{extra} yours\" data-yours=\"{}\"", esc(&o.name)),
        None if extra.is_empty() => String::new(),
        None => format!(" class=\"{extra}\""),
    }
}

/// The badge when `mine` is set, else nothing.
pub(crate) fn badge(mine: Option<&Own>) -> &'static str {
    if mine.is_some() { BADGE } else { "" }
}

/// The note at the top of a lab's own page saying how its results are marked.
pub(crate) fn banner(own: Option<&Own>) -> String {
    let Some(o) = own else {
        return String::new();
    };
    format!(
        "<p id=\"your-results\" class=\"card yours-note\">{BADGE}This node is lab \
         <b>{}</b> (key <span class=\"mono\">{}</span>). Its rows below are bold with this \
         badge, its bars are outlined and its points ringed in every chart.</p>",
        esc(&o.name),
        esc(&o.key.short())
    )
}

#[cfg(test)]
mod tests {
    use interlab_protocol::testkit::Author;

    use super::*;

    fn own(name: &str) -> Own {
        Own {
            key: Author::new(3).public(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn only_the_reading_labs_row_gets_the_mark_and_other_classes_stay() {
        let o = own("L02");
        let mine = Some(&o).filter(|o| o.is("L02"));
        assert_eq!(
            row(mine, "flagged"),
            " class=\"flagged yours\" data-yours=\"L02\""
        );
        assert_eq!(row(mine, ""), " class=\"yours\" data-yours=\"L02\"");
        let other = Some(&o).filter(|o| o.is("L01"));
        assert_eq!(row(other, "flagged"), " class=\"flagged\"");
        assert_eq!(row(other, ""), "");
        assert_eq!(badge(mine), BADGE);
        assert_eq!(badge(other), "");
    }

    #[test]
    fn the_banner_names_the_lab_and_escapes_it_and_is_absent_without_one() {
        let b = banner(Some(&own("<b>x</b>")));
        assert!(b.contains("id=\"your-results\"") && b.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert_eq!(banner(None), "");
    }
}
