//! Human tables or JSON.

use persist_runtime::admin::ImportReport;
use serde_json::{Value, json};

/// Where results go: stdout, as tables or JSON.
pub struct Out {
    pub json: bool,
}

impl Out {
    /// A single value: `text` for people, `json` for scripts.
    pub fn value(&self, json: &Value, text: &str) {
        if self.json {
            println!("{json}");
        } else {
            println!("{text}");
        }
    }

    /// A completed action.
    pub fn done(&self, json: &Value, text: &str) {
        self.value(json, text);
    }

    /// What an import did (or, with `dry_run`, would do).
    pub fn imported(&self, report: &ImportReport, dry_run: bool) {
        let verb = if dry_run { "would add" } else { "added" };
        self.done(
            &json!({"dry_run": dry_run, "added": report.added, "replaced": report.replaced, "unchanged": report.unchanged}),
            &format!(
                "{verb} {}, replace {}, leave {} unchanged",
                report.added, report.replaced, report.unchanged
            ),
        );
    }

    /// Rows under a header, columns aligned.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>], json: &Value) {
        if self.json {
            println!("{json}");
            return;
        }
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            println!("{}", padded.join("  ").trim_end());
        };
        line(header.to_vec());
        for row in rows {
            line(row.iter().map(String::as_str).collect());
        }
    }
}

/// `1.2 KiB`-style sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// `"-"`, `"expired"` or a duration like `59m 58s`.
pub fn time_to_expiry(expires_ms: Option<u64>, now_ms: u64) -> String {
    match expires_ms {
        None => "-".into(),
        Some(e) if e <= now_ms => "expired".into(),
        Some(e) => {
            let secs = (e - now_ms) / 1000;
            humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
        }
    }
}
