//! Replays every input the fuzzers found (and the seeds kept beside them) through the oracle
//! of its target: each must return, without a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn replay(target: &str, oracle: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "md") {
            continue;
        }
        oracle(&std::fs::read(&path).unwrap());
        count += 1;
    }
    count
}

#[test]
fn every_kept_input_returns() {
    let replayed = replay("unicode_text", wrd_clipboard::oracles::unicode_text)
        + replay("cf_html", wrd_clipboard::oracles::cf_html)
        + replay("dib", wrd_clipboard::oracles::dib)
        + replay("png", wrd_clipboard::oracles::png)
        + replay("file_list", wrd_clipboard::oracles::file_list);
    // The seeds are there: a missing directory is a broken test, not a pass.
    assert!(5 <= replayed, "only {replayed} inputs replayed");
}
