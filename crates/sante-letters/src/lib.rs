//! The platform's letters as PDF: what the operator prints and posts to each person
//! (ACC-1: the activation letter with its one-time code; later the shared care
//! record's information letter, DSP-5).
//!
//! A letter is a title and paragraphs, laid out on A4 pages with the standard
//! Helvetica font (every PDF reader has it, nothing to embed) in WinAnsi encoding,
//! which covers French, German and English. Lines are wrapped by measured width and
//! pages added as needed.
//!
//! Architecture invariant: no IO, no storage, no protocol: text in, bytes out.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A4 in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 64.0;
const BODY_SIZE: f32 = 10.5;
const TITLE_SIZE: f32 = 16.0;
const LEADING: f32 = 1.35;

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("the letter has a character PDF standard fonts cannot show: {0:?}")]
    Unencodable(char),
}

impl sante_types::Coded for LetterError {
    fn code(&self) -> &'static str {
        match self {
            LetterError::Unencodable(_) => "LET001",
        }
    }

    fn kind(&self) -> sante_types::ErrorKind {
        sante_types::ErrorKind::Invalid
    }
}

/// One block of a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A heading, in bold.
    Heading(String),
    /// A paragraph, wrapped to the page.
    Paragraph(String),
    /// A label and a value that must be read exactly (a login name, a code), the value
    /// large and in a fixed-width font.
    Field { label: String, value: String },
}

/// A letter: the sender's block, the addressee, a title and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub sender: Vec<String>,
    pub addressee: Vec<String>,
    pub place_and_date: String,
    pub title: String,
    pub blocks: Vec<Block>,
}

/// Windows-1252 bytes of `text` (the WinAnsi encoding of the standard fonts).
fn win_ansi(text: &str) -> Result<Vec<u8>, LetterError> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => Ok(c as u8),
            '€' => Ok(0x80),
            '‚' => Ok(0x82),
            '„' => Ok(0x84),
            '…' => Ok(0x85),
            '‘' => Ok(0x91),
            '’' => Ok(0x92),
            '“' => Ok(0x93),
            '”' => Ok(0x94),
            '•' => Ok(0x95),
            '–' => Ok(0x96),
            '—' => Ok(0x97),
            'œ' => Ok(0x9c),
            'Œ' => Ok(0x8c),
            '\u{202f}' => Ok(0xa0),
            other => Err(LetterError::Unencodable(other)),
        })
        .collect()
}

/// Helvetica's advance widths (thousandths of the size) for WinAnsi bytes, close
/// enough to wrap lines: narrow, average and wide letters.
fn width(bytes: &[u8], size: f32, monospace: bool) -> f32 {
    if monospace {
        return bytes.len() as f32 * 600.0 * size / 1000.0;
    }
    let units: u32 = bytes
        .iter()
        .map(|b| match b {
            b' ' | b'.' | b',' | b':' | b';' | b'\'' | b'!' | b'|' => 278,
            b'i' | b'j' | b'l' | b'f' | b't' | b'I' | b'(' | b')' | b'-' | b'/' => 278,
            b'r' => 333,
            b'm' | b'w' | b'M' | b'W' => 833,
            b'A'..=b'Z' => 667,
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// Splits `text` into lines no wider than `max`.
fn wrap(text: &[u8], size: f32, max: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in text.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if width(&candidate, size, false) > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line.extend_from_slice(word);
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Pages {
    contents: Vec<Content>,
    y: f32,
}

impl Pages {
    fn new() -> Pages {
        Pages {
            contents: vec![Content::new()],
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn line(&mut self, font: Name, size: f32, text: &[u8], x: f32) {
        let step = size * LEADING;
        if self.y - step < MARGIN {
            self.contents.push(Content::new());
            self.y = PAGE_HEIGHT - MARGIN;
        }
        self.y -= step;
        if let Some(content) = self.contents.last_mut() {
            content
                .begin_text()
                .set_font(font, size)
                .next_line(x, self.y)
                .show(Str(text))
                .end_text();
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }
}

/// The PDF of `letter`.
pub fn render(letter: &Letter) -> Result<Vec<u8>, LetterError> {
    const REGULAR: Name = Name(b"F1");
    const BOLD: Name = Name(b"F2");
    const MONO: Name = Name(b"F3");
    let text_width = PAGE_WIDTH - 2.0 * MARGIN;
    let mut pages = Pages::new();
    for line in &letter.sender {
        pages.line(REGULAR, 9.0, &win_ansi(line)?, MARGIN);
    }
    pages.gap(24.0);
    for line in &letter.addressee {
        pages.line(REGULAR, BODY_SIZE, &win_ansi(line)?, PAGE_WIDTH / 2.0);
    }
    pages.gap(24.0);
    pages.line(
        REGULAR,
        BODY_SIZE,
        &win_ansi(&letter.place_and_date)?,
        MARGIN,
    );
    pages.gap(18.0);
    for line in wrap(&win_ansi(&letter.title)?, TITLE_SIZE, text_width) {
        pages.line(BOLD, TITLE_SIZE, &line, MARGIN);
    }
    pages.gap(10.0);
    for block in &letter.blocks {
        match block {
            Block::Heading(text) => {
                pages.gap(8.0);
                for line in wrap(&win_ansi(text)?, 12.0, text_width) {
                    pages.line(BOLD, 12.0, &line, MARGIN);
                }
            }
            Block::Paragraph(text) => {
                for line in wrap(&win_ansi(text)?, BODY_SIZE, text_width) {
                    pages.line(REGULAR, BODY_SIZE, &line, MARGIN);
                }
                pages.gap(6.0);
            }
            Block::Field { label, value } => {
                pages.line(REGULAR, BODY_SIZE, &win_ansi(label)?, MARGIN);
                let value = win_ansi(value)?;
                let size = if width(&value, 16.0, true) > text_width {
                    11.0
                } else {
                    16.0
                };
                pages.line(MONO, size, &value, MARGIN + 12.0);
                pages.gap(6.0);
            }
        }
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let fonts = [
        (REGULAR, Ref::new(3), "Helvetica"),
        (BOLD, Ref::new(4), "Helvetica-Bold"),
        (MONO, Ref::new(5), "Courier"),
    ];
    let mut next = 6;
    let mut page_ids = Vec::new();
    for content in pages.contents {
        let page_id = Ref::new(next);
        let content_id = Ref::new(next + 1);
        next += 2;
        page_ids.push(page_id);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (name, id, _) in &fonts {
            font_dict.pair(*name, *id);
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.catalog(catalog).pages(tree);
    let count = i32::try_from(page_ids.len()).unwrap_or(i32::MAX);
    pdf.pages(tree).kids(page_ids).count(count);
    for (_, id, base) in &fonts {
        pdf.type1_font(*id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(paragraphs: usize) -> Letter {
        Letter {
            sender: vec!["Sante — plateforme nationale".into()],
            addressee: vec!["Marie Schmit".into(), "12 rue de l'Église".into(), "L-1234 Luxembourg".into()],
            place_and_date: "Luxembourg, le 1er décembre 2026".into(),
            title: "Votre lettre d'activation".into(),
            blocks: (0..paragraphs)
                .map(|i| Block::Paragraph(format!("Paragraphe {i} : données de santé, sécurité, Straße, naïve, « guillemets » — fin.")))
                .chain([Block::Field { label: "Code".into(), value: "7K3M-9QX2-ABCD-EFGH".into() }])
                .collect(),
        }
    }

    /// The text a real PDF reader (poppler's `pdftotext`, installed by `cargo xtask
    /// deps`) extracts from `pdf`.
    fn read_back(pdf: &[u8]) -> String {
        use std::io::Write;
        use std::process::{Command, Stdio};
        #[expect(clippy::disallowed_methods)]
        let mut child = Command::new("pdftotext")
            .args(["-layout", "-", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("pdftotext (apt-get install poppler-utils, or cargo xtask deps)");
        child.stdin.take().unwrap().write_all(pdf).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "pdftotext refused the PDF");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_letter_is_a_pdf_a_reader_reads_back() {
        let pdf = render(&letter(3)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = read_back(&pdf);
        for needle in [
            "7K3M-9QX2-ABCD-EFGH",
            "Straße",
            "naïve",
            "« guillemets » — fin",
            "12 rue de l'Église",
            "Votre lettre d'activation",
        ] {
            assert!(text.contains(needle), "{needle:?} not in:\n{text}");
        }
    }

    #[test]
    fn long_letters_flow_onto_more_pages_and_odd_characters_are_refused() {
        let one = render(&letter(2)).unwrap();
        let many = render(&letter(120)).unwrap();
        let count = |pdf: &[u8]| pdf.windows(10).filter(|w| w == b"/Type /Pag").count();
        assert!(count(&many) > count(&one));
        let mut bad = letter(1);
        bad.title = "Emoji 🙂".into();
        assert!(matches!(render(&bad), Err(LetterError::Unencodable('🙂'))));
    }

    #[test]
    fn lines_wrap_within_the_text_width() {
        let text = win_ansi(&"mot ".repeat(200)).unwrap();
        let lines = wrap(&text, BODY_SIZE, 400.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| width(l, BODY_SIZE, false) <= 400.0));
    }
}
