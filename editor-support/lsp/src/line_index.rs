//! Conversion between the byte offsets the front end uses and the LSP positions
//! editors use (0-based line, column in UTF-16 code units). It owns only the
//! line-start table of one text; it never panics on a position outside the text:
//! such positions are clamped to the nearest valid place.

use lsp_types::{Position, Range};
use pipe_lang::span::Span;

/// Line starts of one text, built once per document version.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset where each line starts; the first entry is 0.
    line_starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            line_starts,
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

    /// The text of line `line` without its line terminator (`\n` or `\r\n`).
    fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.line_starts[line];
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.len, |next| next - 1);
        let raw = text.get(start..end).unwrap_or("");
        raw.strip_suffix('\r').unwrap_or(raw)
    }

    /// The LSP position of a byte offset; an offset inside a character counts as
    /// that character's start, one past the end as the end of the text.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let prefix = text.get(start..offset).unwrap_or("");
        let prefix = prefix.strip_suffix('\r').unwrap_or(prefix);
        Position::new(to_u32(line), to_u32(utf16_len(prefix)))
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
        let wanted = position.character as usize;
        let mut units = 0;
        for (i, ch) in self.line_text(text, line).char_indices() {
            let next = units + ch.len_utf16();
            if next > wanted {
                return start + i;
            }
            units = next;
        }
        start + self.line_text(text, line).len()
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
