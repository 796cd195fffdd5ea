//! Everything the CLI prints as results: human tables or JSON, sizes,
//! times and durations in words, progress.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use persist_runtime::admin::{ImportReport, RawRecord, StoreStats};
use serde_json::{Value, json};

/// Where results go: stdout, as tables or JSON.
pub struct Out {
    /// JSON (for scripts) instead of text and tables (for people).
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

    /// The records of `keys`: their stored keys shown without the first
    /// `prefix_len` bytes (the user's prefix under `--scope`), times
    /// relative to `now_ms`.
    pub fn records(&self, records: &[RawRecord], prefix_len: usize, now_ms: u64) {
        let shown = |r: &RawRecord| r.key.get(prefix_len..).unwrap_or(&r.key).to_owned();
        let who = |r: &RawRecord| r.scope().unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| match &r.header {
                Ok(h) => vec![
                    who(r),
                    shown(r),
                    r.namespace().to_owned(),
                    human_size(r.size as u64),
                    format_ms(h.updated_ms),
                    time_to_expiry(h.expires_ms, now_ms),
                ],
                Err(why) => vec![
                    who(r),
                    shown(r),
                    r.namespace().to_owned(),
                    human_size(r.size as u64),
                    format!("undecodable: {why}"),
                    String::new(),
                ],
            })
            .collect();
        let json: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({
                    "key": shown(r), "stored_key": r.key, "scope": r.scope(),
                    "namespace": r.namespace(), "size": r.size,
                    "header": r.header.as_ref().ok(), "error": r.header.as_ref().err(),
                })
            })
            .collect();
        self.table(
            &["SCOPE", "KEY", "NAMESPACE", "SIZE", "UPDATED", "EXPIRES IN"],
            &rows,
            &Value::Array(json),
        );
    }

    /// What `stats` found: per namespace, then the store's own lines.
    pub fn stats(&self, stats: &StoreStats) {
        let mut rows: Vec<Vec<String>> = stats
            .namespaces
            .iter()
            .map(|(ns, s)| vec![ns.clone(), s.records.to_string(), human_size(s.bytes)])
            .collect();
        for (what, bytes) in [("(file)", stats.file_bytes), ("(map)", stats.map_bytes)] {
            if let Some(bytes) = bytes {
                rows.push(vec![what.into(), String::new(), human_size(bytes)]);
            }
        }
        rows.push(vec![
            "(expired, not purged)".into(),
            stats.expired_pending.to_string(),
            String::new(),
        ]);
        for (key_id, n) in &stats.sealed {
            rows.push(vec![
                format!("(sealed with key {key_id})"),
                n.to_string(),
                String::new(),
            ]);
        }
        let json = serde_json::to_value(stats).unwrap_or(Value::Null);
        self.table(&["NAMESPACE", "RECORDS", "BYTES"], &rows, &json);
    }

    /// What `check` found: each undecodable record's key and why.
    pub fn problems(&self, bad: &[(String, String)]) {
        let rows: Vec<Vec<String>> = bad
            .iter()
            .map(|(k, why)| vec![k.clone(), why.clone()])
            .collect();
        let json: Vec<Value> = bad
            .iter()
            .map(|(k, why)| json!({"key": k, "error": why}))
            .collect();
        self.table(&["KEY", "PROBLEM"], &rows, &Value::Array(json));
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

/// `value` as indented JSON on stdout (what `get` prints, with or without `--json`).
pub fn pretty(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// The last millisecond RFC 3339 text can show: the end of year 9999.
const LAST_RFC3339_MS: u64 = 253_402_300_800_000 - 1;

/// Milliseconds since the epoch as RFC 3339 text in UTC, to the millisecond
/// (`2024-05-01T12:00:00.000Z`); past year 9999, which RFC 3339 cannot
/// show, the number itself (`N ms since the epoch`).
pub fn format_ms(ms: u64) -> String {
    let time = (ms <= LAST_RFC3339_MS)
        .then(|| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
        .flatten();
    match time {
        Some(time) => rfc3339_ms(time),
        None => format!("{ms} ms since the epoch"),
    }
}

/// `time` (at most the end of year 9999) as RFC 3339 text to the millisecond.
fn rfc3339_ms(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Progress on stderr as `verb N records...`, only when it is a terminal.
pub fn progress_reporter(verb: &'static str) -> impl FnMut(usize) {
    let tty = std::io::stderr().is_terminal();
    move |n| {
        if tty {
            eprint!("\r{verb} {n} records...");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_to_the_millisecond() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(format_ms(LAST_RFC3339_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn times_past_year_9999_are_the_number() {
        assert_eq!(
            format_ms(LAST_RFC3339_MS + 1),
            "253402300800000 ms since the epoch"
        );
        assert_eq!(
            format_ms(u64::MAX),
            format!("{} ms since the epoch", u64::MAX)
        );
    }

    #[test]
    fn sizes_and_expiry_in_words() {
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(time_to_expiry(None, 5), "-");
        assert_eq!(time_to_expiry(Some(5), 5), "expired");
        assert_eq!(time_to_expiry(Some(65_000), 0), "1m 5s");
    }
}
