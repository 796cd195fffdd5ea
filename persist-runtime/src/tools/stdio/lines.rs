//! Newline-framed reading with a bound on a line's length.

use std::io::{self, BufRead};

/// How much of an over-long line is kept, to recover its `id`.
const KEPT_OF_LONG_LINE: usize = 64 * 1024;

/// What one call of [`read_line`] got.
#[derive(Debug, PartialEq)]
pub(super) enum Line {
    /// A line is in the buffer, without its `\n` (or `\r\n`). The last line
    /// of the stream counts even without a final newline.
    Complete,
    /// The line was longer than the limit: the buffer holds its first bytes
    /// only, and the rest was read and dropped.
    TooLong,
    /// The stream ended.
    Eof,
}

/// Reads the next line into `buf` (cleared first), never holding more than
/// `max` bytes of it: the rest of a longer line is read and dropped, so the
/// next call starts at the next line.
pub(super) fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(match (too_long, buf.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => {
                    trim_line_end(buf);
                    Line::Complete
                }
            });
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let take = newline.map_or(available.len(), |at| at + 1);
        let chunk = &available[..newline.unwrap_or(take)];
        if !too_long && buf.len() + chunk.len() > max {
            too_long = true;
            buf.truncate(KEPT_OF_LONG_LINE);
        }
        if !too_long {
            buf.extend_from_slice(chunk);
        } else if buf.len() < KEPT_OF_LONG_LINE {
            let room = KEPT_OF_LONG_LINE - buf.len();
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        input.consume(take);
        if newline.is_some() {
            if too_long {
                return Ok(Line::TooLong);
            }
            trim_line_end(buf);
            return Ok(Line::Complete);
        }
    }
}

fn trim_line_end(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Line, Vec<u8>)> {
        // A tiny buffer makes lines span many fill_buf calls.
        let mut reader = io::BufReader::with_capacity(3, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let line = read_line(&mut reader, &mut buf, max).expect("in-memory read");
            if line == Line::Eof {
                return out;
            }
            out.push((line, buf.clone()));
        }
    }

    #[test]
    fn splits_lines_and_strips_line_ends() {
        let got = lines(b"one\r\ntwo\n\nlast", 100);
        assert_eq!(
            got,
            vec![
                (Line::Complete, b"one".to_vec()),
                (Line::Complete, b"two".to_vec()),
                (Line::Complete, b"".to_vec()),
                (Line::Complete, b"last".to_vec()),
            ]
        );
    }

    #[test]
    fn a_long_line_is_reported_and_the_next_one_still_read() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nnext\n");
        let got = lines(&input, 10);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, Line::TooLong);
        assert!(got[0].1.iter().all(|&b| b == b'x'), "keeps the start");
        assert_eq!(got[1], (Line::Complete, b"next".to_vec()));
        // Exactly at the limit is fine.
        assert_eq!(lines(b"0123456789\n", 10)[0].0, Line::Complete);
        assert_eq!(lines(b"0123456789a", 10)[0].0, Line::TooLong);
    }
}
