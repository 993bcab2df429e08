//! Entry points for the fuzz targets (`fuzz/`) and for replaying what they found
//! (`tests/fuzz_regression.rs`): each feeds untrusted bytes to one conversion and, when it
//! succeeds, converts the result back. A panic or a hang is the bug; errors are expected.

use crate::formats::RdpFormatKind;
use crate::{Limits, convert_from_client, convert_from_desktop, files, image};

/// Limits small enough that a fuzzer's inputs reach the limit checks too.
fn fuzz_limits() -> Limits {
    Limits {
        max_item_bytes: 1 << 20,
    }
}

pub fn unicode_text(data: &[u8]) {
    if let Ok(text) = convert_from_client(RdpFormatKind::UnicodeText, data, &fuzz_limits()) {
        let _ = convert_from_desktop(RdpFormatKind::UnicodeText, &text, &fuzz_limits());
    }
    let _ = convert_from_desktop(RdpFormatKind::UnicodeText, data, &fuzz_limits());
}

pub fn cf_html(data: &[u8]) {
    if let Ok(html) = convert_from_client(RdpFormatKind::Html, data, &fuzz_limits()) {
        let _ = convert_from_desktop(RdpFormatKind::Html, &html, &fuzz_limits());
    }
    let _ = convert_from_desktop(RdpFormatKind::Html, data, &fuzz_limits());
}

pub fn dib(data: &[u8]) {
    if let Ok(rgba) = image::dib_to_rgba(data, &fuzz_limits()) {
        let _ = image::rgba_to_dib(&rgba, image::DibKind::DibV5, &fuzz_limits());
    }
}

pub fn png(data: &[u8]) {
    if let Ok(rgba) = image::png_to_rgba(data, &fuzz_limits()) {
        let _ = image::rgba_to_dib(&rgba, image::DibKind::Dib, &fuzz_limits());
    }
}

pub fn file_list(data: &[u8]) {
    if let Ok(entries) = files::parse_file_list(data, &fuzz_limits()) {
        let _ = files::build_file_list(&entries);
    }
    if let Ok(paths) = files::parse_uri_list(data, &fuzz_limits()) {
        let paths: Vec<&std::path::Path> = paths.iter().map(|path| path.as_path()).collect();
        let _ = files::build_uri_list(&paths);
    }
    if let Ok(paths) = files::parse_gnome_copied_files(data, &fuzz_limits()) {
        let paths: Vec<&std::path::Path> = paths.iter().map(|path| path.as_path()).collect();
        let _ = files::build_gnome_copied_files(&paths);
    }
}
