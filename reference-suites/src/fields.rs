//! Checks of single manifest fields (ids, paths, training recipes) that the manifest's own
//! check and the items' check share; each error names the field and the bad value.

use crate::manifest::{ManifestError, RecipeSpec};

pub(crate) fn check_recipe(at: &str, r: &RecipeSpec) -> Result<(), ManifestError> {
    let bad = |f: &str, problem: String| {
        Err(ManifestError::Invalid {
            field: format!("{at}.{f}"),
            problem,
        })
    };
    if r.steps == 0 || r.steps > 1_000_000 {
        return bad("steps", format!("{} must be in 1..=1000000", r.steps));
    }
    if !(r.lr.is_finite() && r.lr > 0.0) {
        return bad("lr", format!("{} must be positive", r.lr));
    }
    if r.betas.iter().any(|b| !(0.0..1.0).contains(b)) {
        return bad("betas", format!("{:?} must lie in [0, 1)", r.betas));
    }
    if !(r.eps.is_finite() && r.eps > 0.0) {
        return bad("eps", format!("{} must be positive", r.eps));
    }
    if r.batch_size == Some(0) {
        return bad("batch_size", "0 must be at least 1".into());
    }
    Ok(())
}

pub(crate) fn check_id(field: &str, id: &str) -> Result<(), ManifestError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ManifestError::Invalid {
            field: field.into(),
            problem: format!("{id:?} must be 1 to 64 of A-Z a-z 0-9 . _ -"),
        })
    }
}

pub(crate) fn check_path(field: &str, path: &str) -> Result<(), ManifestError> {
    let ok = !path.is_empty()
        && path.len() <= 255
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(ManifestError::Invalid {
            field: field.into(),
            problem: format!("{path:?} must be a relative path inside the suite folder"),
        })
    }
}
