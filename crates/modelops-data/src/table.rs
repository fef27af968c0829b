//! Reading raw CSV files (plain or gzip) into a typed Polars [`DataFrame`] while keeping, for every row, the line it
//! came from and, for every cell that does not parse, the line, column and text.
//!
//! We split records ourselves instead of using Polars' CSV reader because validation needs what that reader cannot
//! give: the 1-based file line of every row (also when a quoted field spans lines), every unparseable cell rather
//! than the first error of a chunk, ragged lines reported by line number, and a readable message when a gzip stream
//! is truncated. One sequential pass over the (decompressed) bytes also hashes the file for the manifest, so a file
//! is read exactly once. The parsed columns go straight into Polars arrays.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use polars::prelude::*;

use crate::error::{DataError, Result, more_lines};
use crate::manifest::{Fingerprint, HashingReader};
use crate::schema::{ColumnKind, RawSchema};

/// How many failing cells per column are kept as examples.
pub const MAX_EXAMPLES: usize = 10;

/// Maps a row index of a [`RawTable`] to the 1-based line of the file it started on.
#[derive(Clone, Debug, Default)]
pub struct LineMap {
    /// `None` while row `i` is on line `i + 2` (header on line 1, one line per record).
    irregular: Option<Vec<u64>>,
}

impl LineMap {
    fn push(&mut self, row: usize, line: u64) {
        match &mut self.irregular {
            Some(lines) => lines.push(line),
            None if line != row as u64 + 2 => {
                let mut lines: Vec<u64> = (0..row as u64).map(|r| r + 2).collect();
                lines.push(line);
                self.irregular = Some(lines);
            }
            None => {}
        }
    }

    /// The 1-based line on which row `row` (0-based, header excluded) starts.
    pub fn line_of(&self, row: usize) -> u64 {
        match &self.irregular {
            Some(lines) => lines.get(row).copied().unwrap_or(row as u64 + 2),
            None => row as u64 + 2,
        }
    }
}

/// Cells of one column that did not parse as the column's kind.
#[derive(Clone, Debug, PartialEq)]
pub struct BadCells {
    /// Column name.
    pub column: String,
    /// The kind the column should have.
    pub expected: ColumnKind,
    /// How many cells failed.
    pub count: usize,
    /// The first failures: (1-based line, text found).
    pub examples: Vec<(u64, String)>,
    /// Row indices (0-based) of every failing cell.
    pub rows: Vec<usize>,
}

/// A raw CSV file read into typed columns, with line numbers and parse failures.
#[derive(Clone, Debug)]
pub struct RawTable {
    /// The file read.
    pub path: PathBuf,
    /// Header names in file order.
    pub header: Vec<String>,
    /// One column per header name, typed by the schema (`Int32`, `Float32`, `Date`, `String`; unknown columns are
    /// `String`). A cell that did not parse is null and listed in [`RawTable::bad_cells`].
    pub frame: DataFrame,
    /// Row → file line.
    pub lines: LineMap,
    /// Unparseable cells, one entry per column that has any.
    pub bad_cells: Vec<BadCells>,
    /// Content hash of the file's bytes as stored (compressed if gzip).
    pub fingerprint: Fingerprint,
}

impl RawTable {
    /// Number of data rows.
    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// Fails with [`DataError::BadValue`] on the first unparseable cell, counting the others.
    pub fn require_parsed(&self) -> Result<()> {
        let total: usize = self.bad_cells.iter().map(|b| b.count).sum();
        let Some(first) = self
            .bad_cells
            .iter()
            .min_by_key(|b| b.examples.first().map(|e| e.0))
        else {
            return Ok(());
        };
        let Some((line, value)) = first.examples.first() else {
            return Ok(());
        };
        Err(DataError::BadValue {
            path: self.path.clone(),
            line: *line,
            column: first.column.clone(),
            value: value.clone(),
            expected: first.expected.describe(),
            more_cells: total.saturating_sub(1),
        })
    }

    /// Fails with [`DataError::Columns`] unless the header holds exactly the schema's columns (order may differ).
    pub fn require_columns(&self, schema: &RawSchema) -> Result<()> {
        let expected = schema.names().join(", ");
        for name in schema.names() {
            if !self.header.iter().any(|h| h == name) {
                return Err(DataError::Columns {
                    path: self.path.clone(),
                    problem: format!("missing column {name:?}"),
                    expected,
                });
            }
        }
        if let Some((pos, extra)) = self
            .header
            .iter()
            .enumerate()
            .find(|(_, h)| schema.kind_of(h).is_none())
        {
            return Err(DataError::Columns {
                path: self.path.clone(),
                problem: format!("unexpected column {extra:?} (position {})", pos + 1),
                expected,
            });
        }
        Ok(())
    }
}

/// Finds `data_dir/raw/<stem>.csv[.gz]`, else `data_dir/<stem>.csv[.gz]` (the layout of a plain Kaggle download).
///
/// # Errors
/// [`DataError::NotFound`] naming the preferred location when neither layout has the file.
pub fn locate_raw(data_dir: &Path, schema: &RawSchema) -> Result<PathBuf> {
    let stem = schema.file_stem;
    for dir in [data_dir.join("raw"), data_dir.to_path_buf()] {
        for ext in ["csv", "csv.gz"] {
            let p = dir.join(format!("{stem}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(DataError::NotFound {
        path: data_dir.join("raw").join(format!("{stem}.csv")),
        hint: schema.missing_hint.into(),
    })
}

/// Reads one raw CSV file (plain or gzip, detected by its magic bytes) into a [`RawTable`].
///
/// Known columns are parsed by their [`ColumnKind`]; columns the schema does not know are kept as text. Missing
/// columns are not an error here (validation reports them; [`RawTable::require_columns`] enforces them).
///
/// # Errors
/// [`DataError::NotFound`], [`DataError::EmptyFile`], [`DataError::Gzip`], [`DataError::WrongDelimiter`],
/// [`DataError::FieldCount`] (ragged lines), [`DataError::Columns`] (duplicate header names), [`DataError::Io`].
pub fn read_raw_table(path: &Path, schema: &RawSchema) -> Result<RawTable> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.into(),
            hint: schema.missing_hint.into(),
        },
        _ => DataError::io(path, e),
    })?;
    let mut hashing = BufReader::with_capacity(1 << 18, HashingReader::new(file));
    let is_gzip = {
        let head = hashing.fill_buf().map_err(|e| DataError::io(path, e))?;
        head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
    };
    let (parsed, hashing) = if is_gzip {
        let mut reader = BufReader::with_capacity(1 << 18, MultiGzDecoder::new(hashing));
        let parsed = parse(&mut reader, path, schema, true);
        let hashing = reader.into_inner().into_inner();
        (parsed, hashing)
    } else {
        let parsed = parse(&mut hashing, path, schema, false);
        (parsed, hashing)
    };
    let parsed = parsed?;
    let mut inner = hashing.into_inner();
    // Hash whatever the parser did not consume (e.g. gzip trailer bytes already buffered are counted; drain the rest).
    std::io::copy(&mut inner, &mut std::io::sink()).map_err(|e| DataError::io(path, e))?;
    let fingerprint = inner.finish();
    Ok(RawTable {
        path: path.to_path_buf(),
        header: parsed.header,
        frame: parsed.frame,
        lines: parsed.lines,
        bad_cells: parsed.bad_cells,
        fingerprint,
    })
}

struct Parsed {
    header: Vec<String>,
    frame: DataFrame,
    lines: LineMap,
    bad_cells: Vec<BadCells>,
}

/// Reads one record (possibly spanning lines when a quoted field holds a newline) into `record`.
/// Returns the number of physical lines consumed (0 at end of input).
fn read_record<R: BufRead>(reader: &mut R, record: &mut Vec<u8>) -> std::io::Result<u64> {
    record.clear();
    let mut lines = 0;
    let mut quotes = 0usize;
    loop {
        let start = record.len();
        let n = reader.read_until(b'\n', record)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += 1;
        // Count only the new part, so a stray quote cannot make reading quadratic.
        quotes += record[start..].iter().filter(|&&b| b == b'"').count();
        if quotes.is_multiple_of(2) || !record.ends_with(b"\n") {
            return Ok(lines);
        }
    }
}

/// Splits a record into fields (RFC 4180 quoting, `""` for a quote) written one after another into `scratch`;
/// `bounds` receives each field's range in `scratch`.
fn split_fields(record: &[u8], scratch: &mut Vec<u8>, bounds: &mut Vec<(usize, usize)>) {
    scratch.clear();
    bounds.clear();
    let mut end = record.len();
    while end > 0 && (record[end - 1] == b'\n' || record[end - 1] == b'\r') {
        end -= 1;
    }
    let line = &record[..end];
    let mut i = 0;
    loop {
        let start = scratch.len();
        if i < line.len() && line[i] == b'"' {
            i += 1;
            loop {
                match line[i..].iter().position(|&b| b == b'"') {
                    Some(p) => {
                        scratch.extend_from_slice(&line[i..i + p]);
                        i += p + 1;
                        if i < line.len() && line[i] == b'"' {
                            scratch.push(b'"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    None => {
                        scratch.extend_from_slice(&line[i..]);
                        i = line.len();
                        break;
                    }
                }
            }
            // Text between a closing quote and the next comma is kept as is (lenient, like most readers).
            let p = line[i..]
                .iter()
                .position(|&b| b == b',')
                .unwrap_or(line.len() - i);
            scratch.extend_from_slice(&line[i..i + p]);
            i += p;
        } else {
            let p = line[i..]
                .iter()
                .position(|&b| b == b',')
                .unwrap_or(line.len() - i);
            scratch.extend_from_slice(&line[i..i + p]);
            i += p;
        }
        bounds.push((start, scratch.len()));
        if i < line.len() {
            i += 1; // the comma
            if i == line.len() {
                bounds.push((scratch.len(), scratch.len()));
                break;
            }
        } else {
            break;
        }
    }
}

enum Builder {
    Integer(Vec<Option<i32>>),
    Number(Vec<Option<f32>>),
    Date(Vec<Option<i32>>),
    Text(StringChunkedBuilder),
}

fn parse_integer(text: &str) -> Option<i32> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i32>() {
        return Some(v);
    }
    // `12.0` as written by pandas for an integer column with missing values.
    let v = t.parse::<f64>().ok()?;
    (v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64).then_some(v as i32)
}

fn parse_number(text: &str) -> Option<f32> {
    let v = text.trim().parse::<f32>().ok()?;
    v.is_finite().then_some(v)
}

/// Days from 1970-01-01 to the date written `YYYY-MM-DD`, or `None` if the text is not such a (valid) date.
pub fn parse_date_days(text: &str) -> Option<i32> {
    let b = text.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)?;
    Some(days_since_epoch(date))
}

/// Days from 1970-01-01 to `date` (Polars' `Date` representation).
pub fn days_since_epoch(date: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - 719_163
}

/// The date `days` after 1970-01-01.
pub fn date_from_days(days: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
}

fn parse<R: BufRead>(
    reader: &mut R,
    path: &Path,
    schema: &RawSchema,
    is_gzip: bool,
) -> Result<Parsed> {
    let mut record = Vec::with_capacity(256);
    let mut scratch = Vec::with_capacity(256);
    let mut bounds = Vec::with_capacity(16);
    let mut line_no: u64 = 0;
    let read_err = |e: std::io::Error, line: u64| {
        if is_gzip {
            DataError::Gzip {
                path: path.into(),
                last_complete_line: line,
                source: e,
            }
        } else if e.kind() == std::io::ErrorKind::InvalidData {
            DataError::Invalid {
                path: path.into(),
                message: format!("line {}: {e}", line + 1),
            }
        } else {
            DataError::io(path, e)
        }
    };

    // Header: the first non-blank line.
    let mut header = loop {
        let n = read_record(reader, &mut record).map_err(|e| read_err(e, line_no))?;
        if n == 0 {
            return Err(DataError::EmptyFile { path: path.into() });
        }
        line_no += n;
        if record.iter().any(|b| !b.is_ascii_whitespace()) {
            break record.clone();
        }
    };
    if header.starts_with(&[0xEF, 0xBB, 0xBF]) {
        header.drain(..3);
    }
    split_fields(&header, &mut scratch, &mut bounds);
    let names: Vec<String> = bounds
        .iter()
        .map(|&(s, e)| String::from_utf8_lossy(&scratch[s..e]).trim().to_string())
        .collect();
    if names.len() == 1 {
        for sep in [';', '\t', '|'] {
            if names[0].contains(sep) {
                return Err(DataError::WrongDelimiter {
                    path: path.into(),
                    found: sep,
                });
            }
        }
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(DataError::Columns {
                path: path.into(),
                problem: format!(
                    "column {n:?} appears twice (positions {} and {})",
                    names[..i].iter().position(|x| x == n).map_or(0, |p| p + 1),
                    i + 1
                ),
                expected: schema.names().join(", "),
            });
        }
    }
    let kinds: Vec<ColumnKind> = names
        .iter()
        .map(|n| schema.kind_of(n).unwrap_or(ColumnKind::Text))
        .collect();
    let mut builders: Vec<Builder> = kinds
        .iter()
        .zip(&names)
        .map(|(k, n)| match k {
            ColumnKind::Integer => Builder::Integer(Vec::with_capacity(1 << 16)),
            ColumnKind::Number => Builder::Number(Vec::with_capacity(1 << 16)),
            ColumnKind::Date => Builder::Date(Vec::with_capacity(1 << 16)),
            ColumnKind::Text => {
                Builder::Text(StringChunkedBuilder::new(n.as_str().into(), 1 << 16))
            }
        })
        .collect();
    let mut bad: Vec<BadCells> = names
        .iter()
        .zip(&kinds)
        .map(|(n, k)| BadCells {
            column: n.clone(),
            expected: *k,
            count: 0,
            examples: Vec::new(),
            rows: Vec::new(),
        })
        .collect();
    let mut lines = LineMap::default();
    let mut ragged: Vec<(u64, usize)> = Vec::new();
    let mut ragged_count = 0usize;
    let mut rows = 0usize;
    let mut trailing_blank: Option<u64> = None;

    loop {
        let n = read_record(reader, &mut record).map_err(|e| read_err(e, line_no))?;
        if n == 0 {
            break;
        }
        let this_line = line_no + 1;
        line_no += n;
        if record.iter().all(|b| b.is_ascii_whitespace()) {
            // Blank lines are fine at the end of a file; in the middle they are a ragged record.
            trailing_blank.get_or_insert(this_line);
            continue;
        }
        if let Some(blank) = trailing_blank.take() {
            ragged_count += 1;
            if ragged.len() < 6 {
                ragged.push((blank, 1));
            }
        }
        split_fields(&record, &mut scratch, &mut bounds);
        if bounds.len() != names.len() {
            ragged_count += 1;
            if ragged.len() < 6 {
                ragged.push((this_line, bounds.len()));
            }
            continue;
        }
        if ragged_count > 0 {
            continue; // the table is unusable anyway; keep scanning to count bad lines
        }
        for (col, &(s, e)) in bounds.iter().enumerate() {
            let text = std::str::from_utf8(&scratch[s..e]).unwrap_or("\u{FFFD}");
            let empty = text.trim().is_empty();
            let ok = match &mut builders[col] {
                Builder::Integer(v) => {
                    let parsed = if empty { None } else { parse_integer(text) };
                    v.push(parsed);
                    empty || parsed.is_some()
                }
                Builder::Number(v) => {
                    let parsed = if empty { None } else { parse_number(text) };
                    v.push(parsed);
                    empty || parsed.is_some()
                }
                Builder::Date(v) => {
                    let parsed = if empty { None } else { parse_date_days(text) };
                    v.push(parsed);
                    empty || parsed.is_some()
                }
                Builder::Text(b) => {
                    if empty {
                        b.append_null();
                    } else {
                        b.append_value(text);
                    }
                    true
                }
            };
            if !ok {
                let b = &mut bad[col];
                b.count += 1;
                b.rows.push(rows);
                if b.examples.len() < MAX_EXAMPLES {
                    b.examples.push((this_line, text.to_string()));
                }
            }
        }
        lines.push(rows, this_line);
        rows += 1;
    }

    if let Some(&(line, found)) = ragged.first() {
        let rest: Vec<u64> = ragged[1..].iter().map(|r| r.0).collect();
        return Err(DataError::FieldCount {
            path: path.into(),
            line,
            found,
            expected: names.len(),
            more: more_lines(&rest, ragged_count - 1),
        });
    }

    let columns: Vec<Column> = builders
        .into_iter()
        .zip(&names)
        .map(|(b, n)| {
            let name: PlSmallStr = n.as_str().into();
            match b {
                Builder::Integer(v) => Int32Chunked::from_iter_options(name, v.into_iter())
                    .into_series()
                    .into_column(),
                Builder::Number(v) => Float32Chunked::from_iter_options(name, v.into_iter())
                    .into_series()
                    .into_column(),
                Builder::Date(v) => Int32Chunked::from_iter_options(name, v.into_iter())
                    .into_date()
                    .into_series()
                    .into_column(),
                Builder::Text(b) => b.finish().into_series().into_column(),
            }
        })
        .collect();
    let frame = DataFrame::new(rows, columns)
        .map_err(|e| DataError::polars(format!("{}", path.display()), e))?;
    bad.retain(|b| b.count > 0);
    Ok(Parsed {
        header: names,
        frame,
        lines,
        bad_cells: bad,
    })
}

/// Reads all bytes of a plain or gzip file (detected by magic bytes), for small files such as suites.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Gzip {
                path: path.into(),
                last_complete_line: 0,
                source: e,
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<String> {
        let (mut s, mut b) = (Vec::new(), Vec::new());
        split_fields(line.as_bytes(), &mut s, &mut b);
        b.iter()
            .map(|&(x, y)| String::from_utf8(s[x..y].to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn quoted_fields_lose_their_quotes_and_keep_commas() {
        assert_eq!(
            fields("1,\"c\",\"a\",1270,9,2008,0,,,\"\"\n"),
            ["1", "c", "a", "1270", "9", "2008", "0", "", "", ""]
        );
        assert_eq!(
            fields("2,\"Jan,Apr,Jul,Oct\"\r\n"),
            ["2", "Jan,Apr,Jul,Oct"]
        );
        assert_eq!(fields("\"say \"\"hi\"\"\",x"), ["say \"hi\"", "x"]);
        assert_eq!(fields("a,"), ["a", ""]);
        assert_eq!(fields(""), [""]);
    }

    #[test]
    fn dates_parse_to_polars_days() {
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("2015-07-31"), Some(16_647));
        assert_eq!(parse_date_days("2015-02-29"), None);
        assert_eq!(parse_date_days("31.07.2015"), None);
        assert_eq!(
            date_from_days(16_647).map(|d| d.to_string()),
            Some("2015-07-31".into())
        );
    }

    #[test]
    fn integers_accept_pandas_float_spelling_only_when_whole() {
        assert_eq!(parse_integer("12"), Some(12));
        assert_eq!(parse_integer("12.0"), Some(12));
        assert_eq!(parse_integer("12.5"), None);
        assert_eq!(parse_integer("abc"), None);
    }

    #[test]
    fn line_map_tracks_multi_line_records() {
        let mut m = LineMap::default();
        m.push(0, 2);
        m.push(1, 3);
        assert_eq!(m.line_of(1), 3);
        m.push(2, 5);
        assert_eq!(m.line_of(0), 2);
        assert_eq!(m.line_of(2), 5);
    }
}
