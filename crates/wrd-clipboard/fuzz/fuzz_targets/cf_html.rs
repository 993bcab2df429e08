#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wrd_clipboard::oracles::cf_html(data));
