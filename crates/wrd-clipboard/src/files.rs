//! `FileGroupDescriptorW` ↔ file names safe below a session directory, and `text/uri-list`.
//!
//! A file list (MS-RDPECLIP 2.2.5.2.3) is a count then 592-byte `FILEDESCRIPTORW`s; the name
//! is 260 UTF-16 code units, NUL-terminated, relative, `\`-separated for files inside a copied
//! folder. Names come from the peer: one that is absolute, has a drive, a `..` or `.` part, a
//! NUL or nothing at all is refused, so nothing can be written outside the session directory.

use std::path::{Component, Path, PathBuf};

use crate::formats::GNOME_COPIED_FILES_MIME;
use crate::{ConvertError, Limits};

/// The registered name RDP clients announce file lists under.
pub const FILE_GROUP_DESCRIPTOR_W_NAME: &str = "FileGroupDescriptorW";

const DESCRIPTOR_LEN: usize = 592;
const NAME_OFFSET: usize = 72;
const NAME_UNITS: usize = 260;
const FD_ATTRIBUTES: u32 = 0x0004;
const FD_FILESIZE: u32 = 0x0040;
const FD_SHOWPROGRESSUI: u32 = 0x4000;
const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0010;
const FILE_ATTRIBUTE_NORMAL: u32 = 0x0080;

/// One entry of a file list, its name already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative, made only of normal components: joining it to a directory stays inside it.
    pub relative_path: PathBuf,
    pub is_directory: bool,
    /// `None` when the descriptor does not say (`FD_FILESIZE` unset).
    pub size: Option<u64>,
}

/// Checks a name from the peer and turns it into a relative path (`\` and `/` both separate).
pub fn safe_relative_path(name: &str) -> Result<PathBuf, ConvertError> {
    let refuse = |reason| {
        Err(ConvertError::UnsafeFileName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("empty");
    }
    if name.contains('\0') {
        return refuse("contains NUL");
    }
    if name.starts_with(['/', '\\']) {
        return refuse("absolute path");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return refuse("has a drive letter");
    }
    let mut path = PathBuf::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" => return refuse("empty path component"),
            "." | ".." => return refuse("dot path component"),
            _ => path.push(part),
        }
    }
    // Belt and braces: the path must be made of normal components only.
    if !path
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return refuse("not a plain relative path");
    }
    Ok(path)
}

/// Reads a `FileGroupDescriptorW` (a `CLIPRDR_FILELIST`).
pub fn parse_file_list(data: &[u8], limits: &Limits) -> Result<Vec<FileEntry>, ConvertError> {
    limits.check("FileGroupDescriptorW", data.len())?;
    let bad = |message: String| ConvertError::FileList(message);
    let Some(count) = data.get(..4) else {
        return Err(bad(format!("{} bytes is too short for a count", data.len())));
    };
    let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
    let available = (data.len() - 4) / DESCRIPTOR_LEN;
    if count > available {
        return Err(bad(format!("says {count} files, has room for {available}")));
    }
    let mut entries = Vec::with_capacity(count);
    for descriptor in data[4..].chunks_exact(DESCRIPTOR_LEN).take(count) {
        let u32_at = |offset: usize| {
            u32::from_le_bytes([
                descriptor[offset],
                descriptor[offset + 1],
                descriptor[offset + 2],
                descriptor[offset + 3],
            ])
        };
        let flags = u32_at(0);
        let units: Vec<u16> = descriptor[NAME_OFFSET..NAME_OFFSET + NAME_UNITS * 2]
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .take_while(|&unit| unit != 0)
            .collect();
        let name =
            String::from_utf16(&units).map_err(|_| bad("a file name is not valid UTF-16".to_owned()))?;
        let relative_path = safe_relative_path(&name)?;
        let is_directory = flags & FD_ATTRIBUTES != 0 && u32_at(36) & FILE_ATTRIBUTE_DIRECTORY != 0;
        let size = (flags & FD_FILESIZE != 0).then(|| (u64::from(u32_at(64)) << 32) | u64::from(u32_at(68)));
        if let Some(size) = size {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            limits.check("a pasted file", size)?;
        }
        entries.push(FileEntry {
            relative_path,
            is_directory,
            size,
        });
    }
    Ok(entries)
}

/// Writes a `FileGroupDescriptorW` for entries the desktop copied (names relative, with `/`
/// written as `\`).
pub fn build_file_list(entries: &[FileEntry]) -> Result<Vec<u8>, ConvertError> {
    let count =
        u32::try_from(entries.len()).map_err(|_| ConvertError::FileList("too many files".to_owned()))?;
    let mut out = Vec::with_capacity(4 + entries.len() * DESCRIPTOR_LEN);
    out.extend_from_slice(&count.to_le_bytes());
    for entry in entries {
        let name = entry
            .relative_path
            .to_str()
            .ok_or_else(|| ConvertError::UnsafeFileName {
                name: entry.relative_path.display().to_string(),
                reason: "not valid UTF-8",
            })?;
        safe_relative_path(name)?;
        let units: Vec<u16> = name.replace('/', "\\").encode_utf16().collect();
        if NAME_UNITS <= units.len() {
            return Err(ConvertError::UnsafeFileName {
                name: name.to_owned(),
                reason: "longer than 259 characters",
            });
        }
        let mut flags = FD_ATTRIBUTES | FD_SHOWPROGRESSUI;
        let attributes = if entry.is_directory {
            FILE_ATTRIBUTE_DIRECTORY
        } else {
            FILE_ATTRIBUTE_NORMAL
        };
        let size = entry.size.unwrap_or(0);
        if entry.size.is_some() {
            flags |= FD_FILESIZE;
        }
        let start = out.len();
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&[0; 32]); // clsid, sizel, pointl
        out.extend_from_slice(&attributes.to_le_bytes());
        out.extend_from_slice(&[0; 24]); // creation, access, write times (not sent: no FD_*TIME)
        let [h0, h1, h2, h3, l0, l1, l2, l3] = size.to_be_bytes();
        out.extend_from_slice(&[h3, h2, h1, h0]); // nFileSizeHigh, little-endian
        out.extend_from_slice(&[l3, l2, l1, l0]); // nFileSizeLow
        for unit in &units {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out.resize(start + DESCRIPTOR_LEN, 0);
    }
    Ok(out)
}

/// Reads `text/uri-list` (RFC 2483): the local files it names, in order. Comments and blank
/// lines are skipped; a URI that is not a local `file:` URI is refused.
pub fn parse_uri_list(data: &[u8], limits: &Limits) -> Result<Vec<PathBuf>, ConvertError> {
    limits.check("text/uri-list", data.len())?;
    let text = std::str::from_utf8(data).map_err(|error| ConvertError::InvalidUtf8(error.valid_up_to()))?;
    let mut paths = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let rest = line
            .strip_prefix("file://")
            .ok_or_else(|| ConvertError::UriList(format!("not a file URI: {line:?}")))?;
        // file:///path or file://localhost/path; another host is not a local file.
        let path = match rest.find('/') {
            Some(0) => rest,
            Some(slash) if &rest[..slash] == "localhost" => &rest[slash..],
            _ => return Err(ConvertError::UriList(format!("not a local file: {line:?}"))),
        };
        let decoded =
            percent_decode(path).ok_or_else(|| ConvertError::UriList(format!("bad escape in {line:?}")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| ConvertError::UriList(format!("{line:?} is not UTF-8")))?;
        paths.push(PathBuf::from(decoded));
    }
    Ok(paths)
}

/// Writes `text/uri-list` for absolute paths (CRLF after each, as RFC 2483 asks).
pub fn build_uri_list(paths: &[&Path]) -> Result<Vec<u8>, ConvertError> {
    let mut out = String::new();
    for path in paths {
        let text = path
            .to_str()
            .filter(|text| text.starts_with('/'))
            .ok_or_else(|| {
                ConvertError::UriList(format!("{} is not an absolute UTF-8 path", path.display()))
            })?;
        out.push_str("file://");
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out.push_str("\r\n");
    }
    Ok(out.into_bytes())
}

/// Reads `x-special/gnome-copied-files`: an operation line (`copy` or `cut`), then one
/// `file://` URI per line. A cut is served as a copy: the desktop's files are never removed.
pub fn parse_gnome_copied_files(data: &[u8], limits: &Limits) -> Result<Vec<PathBuf>, ConvertError> {
    limits.check("x-special/gnome-copied-files", data.len())?;
    let text = std::str::from_utf8(data).map_err(|error| ConvertError::InvalidUtf8(error.valid_up_to()))?;
    let (operation, uris) = text.split_once('\n').unwrap_or((text, ""));
    if !matches!(operation.trim(), "copy" | "cut") {
        return Err(ConvertError::UriList(format!(
            "x-special/gnome-copied-files starts with {operation:?}, not copy or cut"
        )));
    }
    parse_uri_list(uris.as_bytes(), limits)
}

/// Writes `x-special/gnome-copied-files` (a copy) for absolute paths.
pub fn build_gnome_copied_files(paths: &[&Path]) -> Result<Vec<u8>, ConvertError> {
    let uris = String::from_utf8(build_uri_list(paths)?)
        .map_err(|_| ConvertError::UriList("a built URI is not ASCII".to_owned()))?;
    let mut out = String::from("copy");
    for uri in uris.lines() {
        out.push('\n');
        out.push_str(uri);
    }
    Ok(out.into_bytes())
}

/// The local files a desktop selection names, from its `text/uri-list` or
/// `x-special/gnome-copied-files` data.
pub fn desktop_file_paths(mime: &str, data: &[u8], limits: &Limits) -> Result<Vec<PathBuf>, ConvertError> {
    if mime.eq_ignore_ascii_case(GNOME_COPIED_FILES_MIME) {
        parse_gnome_copied_files(data, limits)
    } else {
        parse_uri_list(data, limits)
    }
}

/// What a desktop program pasting `mime` gets for the files saved at `paths`.
pub fn pasted_file_paths(mime: &str, paths: &[&Path]) -> Result<Vec<u8>, ConvertError> {
    if mime.eq_ignore_ascii_case(GNOME_COPIED_FILES_MIME) {
        build_gnome_copied_files(paths)
    } else {
        build_uri_list(paths)
    }
}

/// How much of a file one File Contents range request asks for. Big enough that a 64 MiB
/// paste is 128 round trips, small enough that one answer is a modest allocation.
pub const RANGE_CHUNK: u32 = 512 * 1024;

/// The next thing a [`Download`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadStep {
    /// Make the directory of entry `index` (its parents come first in the list, or are made).
    Directory { index: usize },
    /// Ask the file's size (`FILECONTENTS_SIZE`): the list did not say.
    AskSize { index: usize },
    /// Create the (empty) file of entry `index`; ranges of it follow.
    CreateFile { index: usize },
    /// Ask `length` bytes at `position` (`FILECONTENTS_RANGE`) and append them.
    AskRange {
        index: usize,
        position: u64,
        length: u32,
    },
    /// Every entry is complete.
    Done,
}

/// Fetching a client's copied files, without I/O: which File Contents request comes next, what
/// each answer means, and the limit on the total of all files (the per-item limit: a paste of
/// files is one item). The caller carries out each [`DownloadStep`] and reports the answers.
#[derive(Debug)]
pub struct Download {
    entries: Vec<FileEntry>,
    sizes: Vec<Option<u64>>,
    limit: u64,
    total: u64,
    current: usize,
    started: bool,
    position: u64,
}

impl Download {
    /// Refuses a list whose stated sizes already exceed the limit.
    pub fn new(entries: Vec<FileEntry>, limits: &Limits) -> Result<Self, ConvertError> {
        let limit = u64::try_from(limits.max_item_bytes).unwrap_or(u64::MAX);
        let sizes: Vec<Option<u64>> = entries
            .iter()
            .map(|entry| if entry.is_directory { Some(0) } else { entry.size })
            .collect();
        let total = sizes
            .iter()
            .flatten()
            .fold(0u64, |sum, size| sum.saturating_add(*size));
        let download = Self {
            entries,
            sizes,
            limit,
            total,
            current: 0,
            started: false,
            position: 0,
        };
        download.check_total()?;
        Ok(download)
    }

    fn check_total(&self) -> Result<(), ConvertError> {
        if self.total > self.limit {
            return Err(ConvertError::TooLarge {
                what: "the pasted files together",
                size: usize::try_from(self.total).unwrap_or(usize::MAX),
                limit: usize::try_from(self.limit).unwrap_or(usize::MAX),
            });
        }
        Ok(())
    }

    pub fn entries(&self) -> &[FileEntry] {
        &self.entries
    }

    /// Bytes the files hold, as far as known.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The next step; the same one again until its answer is reported.
    pub fn next_step(&mut self) -> DownloadStep {
        loop {
            let index = self.current;
            let Some(entry) = self.entries.get(index) else {
                return DownloadStep::Done;
            };
            if entry.is_directory {
                if !self.started {
                    self.started = true;
                    return DownloadStep::Directory { index };
                }
                self.advance();
                continue;
            }
            let Some(size) = self.sizes[index] else {
                return DownloadStep::AskSize { index };
            };
            if !self.started {
                self.started = true;
                return DownloadStep::CreateFile { index };
            }
            if size <= self.position {
                self.advance();
                continue;
            }
            let length =
                u32::try_from((size - self.position).min(u64::from(RANGE_CHUNK))).unwrap_or(RANGE_CHUNK);
            return DownloadStep::AskRange {
                index,
                position: self.position,
                length,
            };
        }
    }

    fn advance(&mut self) {
        self.current += 1;
        self.started = false;
        self.position = 0;
    }

    /// The client's answer to `AskSize`.
    pub fn size_answered(&mut self, size: u64) -> Result<(), ConvertError> {
        if let Some(slot) = self.sizes.get_mut(self.current)
            && slot.is_none()
        {
            *slot = Some(size);
            self.total = self.total.saturating_add(size);
        }
        self.check_total()
    }

    /// The client's answer to `AskRange` (`received` bytes, to be appended by the caller once
    /// this returns `Ok`).
    pub fn range_answered(&mut self, asked: u32, received: usize) -> Result<(), ConvertError> {
        if received == 0 {
            return Err(ConvertError::FileList(format!(
                "the client sent no data for file {} at byte {}",
                self.current, self.position
            )));
        }
        let received = u64::try_from(received).unwrap_or(u64::MAX);
        if u64::from(asked) < received {
            return Err(ConvertError::FileList(format!(
                "the client sent {received} bytes when {asked} were asked"
            )));
        }
        self.position += received;
        Ok(())
    }
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_escaping_the_directory_are_refused() {
        for name in [
            "../etc/passwd",
            "a\\..\\..\\b",
            "/etc/passwd",
            "\\\\server\\share\\x",
            "\\rooted",
            "C:\\Windows\\x",
            "c:relative",
            "./x",
            "a//b",
            "",
            "a\0b",
            "dir\\",
        ] {
            let result = safe_relative_path(name);
            assert!(
                matches!(result, Err(ConvertError::UnsafeFileName { .. })),
                "{name:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn plain_names_are_kept() {
        assert_eq!(
            safe_relative_path("report.pdf").unwrap(),
            PathBuf::from("report.pdf")
        );
        assert_eq!(
            safe_relative_path("folder\\sub\\a b.txt").unwrap(),
            PathBuf::from("folder/sub/a b.txt")
        );
        assert_eq!(
            safe_relative_path("..hidden..").unwrap(),
            PathBuf::from("..hidden..")
        );
        assert_eq!(
            safe_relative_path("Grüße 日本.txt").unwrap(),
            PathBuf::from("Grüße 日本.txt")
        );
    }

    #[test]
    fn a_file_list_round_trips() {
        let entries = vec![
            FileEntry {
                relative_path: "folder".into(),
                is_directory: true,
                size: Some(0),
            },
            FileEntry {
                relative_path: "folder/ä.txt".into(),
                is_directory: false,
                size: Some(5_000_000_000),
            },
            FileEntry {
                relative_path: "b".into(),
                is_directory: false,
                size: None,
            },
        ];
        let data = build_file_list(&entries).unwrap();
        assert_eq!(data.len(), 4 + 3 * 592);
        assert_eq!(
            parse_file_list(
                &data,
                &Limits {
                    max_item_bytes: usize::MAX
                }
            )
            .unwrap(),
            entries
        );
    }

    #[test]
    fn bad_file_lists_are_refused() {
        let one = build_file_list(&[FileEntry {
            relative_path: "x".into(),
            is_directory: false,
            size: Some(1),
        }])
        .unwrap();
        let mut too_many = one.clone();
        too_many[0] = 2;
        assert!(matches!(
            parse_file_list(&too_many, &Limits::default()),
            Err(ConvertError::FileList(_))
        ));
        assert!(matches!(
            parse_file_list(&[1, 0], &Limits::default()),
            Err(ConvertError::FileList(_))
        ));
        let mut traversal = one.clone();
        for (index, unit) in "..\\x".encode_utf16().enumerate() {
            traversal[4 + NAME_OFFSET + index * 2..4 + NAME_OFFSET + index * 2 + 2]
                .copy_from_slice(&unit.to_le_bytes());
        }
        assert!(matches!(
            parse_file_list(&traversal, &Limits::default()),
            Err(ConvertError::UnsafeFileName { .. })
        ));
        let mut huge = one;
        huge[4 + 64..4 + 68].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(
            parse_file_list(&huge, &Limits::default()),
            Err(ConvertError::TooLarge { .. })
        ));
    }

    #[test]
    fn uri_lists() {
        let data = b"# a comment\r\nfile:///home/u/a%20b.txt\r\nfile://localhost/tmp/%C3%A4\r\n\r\n";
        assert_eq!(
            parse_uri_list(data, &Limits::default()).unwrap(),
            [PathBuf::from("/home/u/a b.txt"), PathBuf::from("/tmp/ä")]
        );
        for bad in [
            &b"http://x/y"[..],
            b"file://otherhost/x",
            b"file:///x%zz",
            b"file:///x%4",
        ] {
            assert!(
                matches!(
                    parse_uri_list(bad, &Limits::default()),
                    Err(ConvertError::UriList(_))
                ),
                "{bad:?}"
            );
        }
        let built = build_uri_list(&[Path::new("/tmp/a b/ä#%.txt")]).unwrap();
        assert_eq!(built, b"file:///tmp/a%20b/%C3%A4%23%25.txt\r\n");
        assert_eq!(
            parse_uri_list(&built, &Limits::default()).unwrap(),
            [PathBuf::from("/tmp/a b/ä#%.txt")]
        );
    }
}

#[cfg(test)]
mod download_tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn entry(path: &str, is_directory: bool, size: Option<u64>) -> FileEntry {
        FileEntry {
            relative_path: path.into(),
            is_directory,
            size,
        }
    }

    #[test]
    fn a_download_walks_directories_sizes_and_ranges() {
        let big = u64::from(RANGE_CHUNK) + 5;
        let mut download = Download::new(
            vec![
                entry("d", true, Some(0)),
                entry("d/big", false, Some(big)),
                entry("empty", false, Some(0)),
                entry("unsized", false, None),
            ],
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(download.next_step(), DownloadStep::Directory { index: 0 });
        assert_eq!(download.next_step(), DownloadStep::CreateFile { index: 1 });
        let first = DownloadStep::AskRange {
            index: 1,
            position: 0,
            length: RANGE_CHUNK,
        };
        assert_eq!(download.next_step(), first);
        // Asked again until answered.
        assert_eq!(download.next_step(), first);
        // A short answer is fine: the rest is asked next.
        download.range_answered(RANGE_CHUNK, 100).unwrap();
        assert_eq!(
            download.next_step(),
            DownloadStep::AskRange {
                index: 1,
                position: 100,
                length: RANGE_CHUNK - 95,
            }
        );
        download
            .range_answered(RANGE_CHUNK - 95, (RANGE_CHUNK - 95) as usize)
            .unwrap();
        assert_eq!(download.next_step(), DownloadStep::CreateFile { index: 2 });
        assert_eq!(download.next_step(), DownloadStep::AskSize { index: 3 });
        assert_eq!(download.next_step(), DownloadStep::AskSize { index: 3 });
        download.size_answered(2).unwrap();
        assert_eq!(download.next_step(), DownloadStep::CreateFile { index: 3 });
        assert_eq!(
            download.next_step(),
            DownloadStep::AskRange {
                index: 3,
                position: 0,
                length: 2
            }
        );
        download.range_answered(2, 2).unwrap();
        assert_eq!(download.next_step(), DownloadStep::Done);
        assert_eq!(download.total_bytes(), big + 2);
    }

    #[test]
    fn hostile_answers_and_totals_are_refused() {
        let limits = Limits { max_item_bytes: 1000 };
        // Each file fits; together they do not.
        let result = Download::new(
            vec![entry("a", false, Some(600)), entry("b", false, Some(600))],
            &limits,
        );
        assert!(
            matches!(
                result,
                Err(ConvertError::TooLarge {
                    size: 1200,
                    limit: 1000,
                    ..
                })
            ),
            "{result:?}"
        );
        let result = Download::new(vec![entry("a", false, Some(u64::MAX))], &limits);
        assert!(matches!(result, Err(ConvertError::TooLarge { .. })), "{result:?}");
        // A size answered later counts too.
        let mut download = Download::new(
            vec![entry("a", false, Some(600)), entry("b", false, None)],
            &limits,
        )
        .unwrap();
        assert_eq!(download.next_step(), DownloadStep::CreateFile { index: 0 });
        download.range_answered(600, 600).unwrap();
        assert_eq!(download.next_step(), DownloadStep::AskSize { index: 1 });
        assert!(matches!(
            download.size_answered(401),
            Err(ConvertError::TooLarge { .. })
        ));
        // More than asked, or nothing, is refused.
        let mut download = Download::new(vec![entry("a", false, Some(10))], &limits).unwrap();
        download.next_step();
        download.next_step();
        assert!(download.range_answered(10, 11).is_err());
        assert!(download.range_answered(10, 0).is_err());
    }

    #[test]
    fn gnome_copied_files() {
        let data = b"copy\nfile:///tmp/a%20b\nfile:///tmp/c";
        assert_eq!(
            parse_gnome_copied_files(data, &Limits::default()).unwrap(),
            [PathBuf::from("/tmp/a b"), PathBuf::from("/tmp/c")]
        );
        assert_eq!(
            parse_gnome_copied_files(b"cut\nfile:///x\n", &Limits::default()).unwrap(),
            [PathBuf::from("/x")]
        );
        assert!(parse_gnome_copied_files(b"file:///x", &Limits::default()).is_err());
        let built = build_gnome_copied_files(&[Path::new("/tmp/a b"), Path::new("/tmp/c")]).unwrap();
        assert_eq!(built, b"copy\nfile:///tmp/a%20b\nfile:///tmp/c");
        assert_eq!(
            desktop_file_paths(GNOME_COPIED_FILES_MIME, &built, &Limits::default()).unwrap(),
            [PathBuf::from("/tmp/a b"), PathBuf::from("/tmp/c")]
        );
        assert_eq!(
            pasted_file_paths("text/uri-list", &[Path::new("/tmp/c")]).unwrap(),
            b"file:///tmp/c\r\n"
        );
    }
}
