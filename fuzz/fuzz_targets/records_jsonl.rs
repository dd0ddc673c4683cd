#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jembatan_fuzz::records::records_jsonl(data));
