//! Conversion between the byte offsets the front end uses and the LSP positions
//! editors use (0-based line, column in UTF-16 code units). It owns only the
//! line-start table of one text and a table of its multi-byte characters, so a
//! conversion costs two binary searches whatever the line's length (a column
//! counted from the line start made semantic tokens quadratic on long lines). It
//! never panics on a position outside the text: such positions are clamped to the
//! nearest valid place.

use lsp_types::{Position, Range};
use pipe_lang::span::Span;

/// Line starts and multi-byte characters of one text, built once per version.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset where each line starts; the first entry is 0.
    line_starts: Vec<usize>,
    /// Byte offset of each character that is longer in UTF-8 than in UTF-16.
    wide: Vec<usize>,
    /// `excess[k]`: UTF-8 bytes minus UTF-16 units of the first `k` wide
    /// characters; one entry longer than `wide`.
    excess: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        let mut wide = Vec::new();
        let mut excess = vec![0];
        for (i, &b) in text.as_bytes().iter().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            } else if b >= 0xC0 {
                // A UTF-8 lead byte: 2 or 3 bytes are one UTF-16 unit, 4 are two.
                let extra = match b {
                    0xC0..=0xDF => 1,
                    _ => 2,
                };
                wide.push(i);
                excess.push(excess[excess.len() - 1] + extra);
            }
        }
        LineIndex {
            line_starts,
            wide,
            excess,
            len: text.len(),
        }
    }

    /// The 0-based line that holds `offset`.
    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// The first wide character at or after `offset`.
    fn wide_from(&self, offset: usize) -> usize {
        self.wide.partition_point(|&w| w < offset)
    }

    /// UTF-16 length of `text[from..to]` (char boundaries).
    fn units(&self, from: usize, to: usize) -> usize {
        let (a, b) = (self.wide_from(from), self.wide_from(to));
        (to - from) - (self.excess[b] - self.excess[a])
    }

    /// Where line `line`'s text ends, before its `\n` or `\r\n`.
    fn line_end(&self, text: &str, line: usize) -> usize {
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.len, |next| next - 1);
        if end > self.line_starts[line] && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        }
    }

    /// The LSP position of a byte offset; an offset inside a character counts as
    /// that character's start, one past the end as the end of the text.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = floor_char_boundary(text, offset.min(self.len));
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        if offset > start && text.as_bytes().get(offset - 1) == Some(&b'\r') {
            offset -= 1;
        }
        Position::new(to_u32(line), to_u32(self.units(start, offset)))
    }

    /// The byte offset of an LSP position; a line past the end gives the end of the
    /// text, a column past the end of its line gives the end of that line, and a
    /// column inside a surrogate pair gives the start of that character.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let line = position.line as usize;
        if line >= self.line_starts.len() {
            return self.len;
        }
        let start = self.line_starts[line];
        let end = self.line_end(text, line);
        let wanted = position.character as usize;
        if wanted >= self.units(start, end) {
            return end;
        }
        // `k`: the first wide character of the line that does not end at or
        // before column `wanted`.
        let (first, last) = (self.wide_from(start), self.wide_from(end));
        let column = |k: usize| self.wide[k] - start - (self.excess[k] - self.excess[first]);
        let width = |k: usize| match text.as_bytes().get(self.wide[k]) {
            Some(&lead) if lead >= 0xF0 => 2,
            _ => 1,
        };
        let (mut k, mut hi) = (first, last);
        while k < hi {
            let mid = k + (hi - k) / 2;
            if column(mid) + width(mid) <= wanted {
                k = mid + 1;
            } else {
                hi = mid;
            }
        }
        if k < last && column(k) < wanted {
            return self.wide[k];
        }
        start + wanted + (self.excess[k] - self.excess[first])
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        Range::new(
            self.position(text, span.start),
            self.position(text, span.end),
        )
    }

    pub fn span(&self, text: &str, range: Range) -> Span {
        let start = self.offset(text, range.start);
        let end = self.offset(text, range.end);
        Span::new(start.min(end), start.max(end))
    }
}

/// UTF-16 length of a string, as LSP columns count it.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The largest char boundary at or before `offset`.
pub fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_all(text: &str) {
        let index = LineIndex::new(text);
        for (offset, _) in text.char_indices() {
            let pos = index.position(text, offset);
            assert_eq!(
                index.offset(text, pos),
                offset,
                "offset {offset} via {pos:?}"
            );
        }
    }

    #[test]
    fn ascii_positions() {
        let text = "let a = 1\nlet b = a\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), Position::new(0, 0));
        assert_eq!(index.position(text, 14), Position::new(1, 4));
        assert_eq!(index.offset(text, Position::new(1, 4)), 14);
        assert_eq!(index.position(text, text.len()), Position::new(2, 0));
        roundtrip_all(text);
    }

    #[test]
    fn non_ascii_columns_count_utf16_units() {
        // `é` is 2 bytes / 1 unit, `😀` is 4 bytes / 2 units, `中` is 3 bytes / 1 unit.
        let text = "## é😀中\nlet x = \"😀\" # ü\n";
        let index = LineIndex::new(text);
        let after_emoji = text.find('中').unwrap_or(0);
        assert_eq!(index.position(text, after_emoji), Position::new(0, 6));
        let x = text.find('x').unwrap_or(0);
        assert_eq!(index.position(text, x), Position::new(1, 4));
        let hash = text.rfind('#').unwrap_or(0);
        assert_eq!(index.position(text, hash), Position::new(1, 13));
        assert_eq!(index.offset(text, Position::new(1, 13)), hash);
        roundtrip_all(text);
    }

    #[test]
    fn column_inside_surrogate_pair_snaps_to_char_start() {
        let text = "a😀b";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, Position::new(0, 2)), 1);
        assert_eq!(index.offset(text, Position::new(0, 3)), 5);
    }

    #[test]
    fn offset_inside_a_char_snaps_back() {
        let text = "é";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 1), Position::new(0, 0));
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, Position::new(0, 99)), 2);
        assert_eq!(index.offset(text, Position::new(7, 0)), text.len());
        assert_eq!(index.position(text, 999), Position::new(1, 2));
        assert_eq!(index.position(text, 3), Position::new(0, 2));
        roundtrip_all("ab\ncd");
    }

    /// The conversion the table replaces: count from the line start.
    fn naive_position(text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset);
        let before = &text[..offset];
        let line = before.matches('\n').count();
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let prefix = before[start..]
            .strip_suffix('\r')
            .unwrap_or(&before[start..]);
        Position::new(to_u32(line), to_u32(utf16_len(prefix)))
    }

    fn naive_offset(text: &str, pos: Position) -> usize {
        let Some((start, raw)) = text
            .split('\n')
            .scan(0, |at, l| {
                let s = *at;
                *at += l.len() + 1;
                Some((s, l))
            })
            .nth(pos.line as usize)
        else {
            return text.len();
        };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let mut units = 0;
        for (i, ch) in line.char_indices() {
            units += ch.len_utf16();
            if units > pos.character as usize {
                return start + i;
            }
        }
        start + line.len()
    }

    #[test]
    fn agrees_with_counting_from_the_line_start() {
        let text = "é😀a\r\n\r\nxx中😀😀\rb\n\n😀\r";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(
                index.position(text, offset),
                naive_position(text, offset.min(text.len())),
                "offset {offset}"
            );
        }
        for line in 0..6 {
            for character in 0..12 {
                let pos = Position::new(line, character);
                assert_eq!(index.offset(text, pos), naive_offset(text, pos), "{pos:?}");
            }
        }
    }

    #[test]
    fn spans_and_ranges_roundtrip() {
        let text = "ü = 1\nß = 2";
        let index = LineIndex::new(text);
        let span = Span::new(text.find('ß').unwrap_or(0), text.len());
        let range = index.range(text, span);
        assert_eq!(range, Range::new(Position::new(1, 0), Position::new(1, 5)));
        assert_eq!(index.span(text, range), span);
    }
}
